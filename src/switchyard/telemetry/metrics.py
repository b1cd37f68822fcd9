"""Request metrics in process, published in Prometheus' text format at scrape time.

The names, types, labels and buckets of the metrics that alerting rules use are a contract (``deploy/README.md``,
"Metric contract"); the rest are listed there too. Label values are bounded: routes and deployments come from the
configuration (a model name no route or deployment has is counted as ``(unknown)``), features are capped at
``max_feature_labels`` distinct values, and nothing per request or per user is ever a label.

Counting is plain arithmetic on objects made once per ``(route, deployment)`` — no label lookups, locks or dicts
built per request — because it runs on the request path of a single-threaded event loop. A
``prometheus_client`` collector turns the numbers into metric families only when ``/metrics`` is scraped.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE",
    "DURATION_BUCKETS",
    "OTHER",
    "OVERHEAD_BUCKETS",
    "TTFT_BUCKETS",
    "UNKNOWN_ROUTE",
    "UPSTREAM_BUCKETS",
    "Histogram",
    "Metrics",
    "Row",
    "exposition",
    "registry",
]

DURATION_BUCKETS: Final = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
"""The contract's buckets for ``switchyard_request_duration_seconds``: 10 and bounds above it, so that a p95
over 10 s can be computed (``histogram_quantile`` stops at the highest finite bound)."""
TTFT_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
UPSTREAM_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
OVERHEAD_BUCKETS: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
"""The gateway's own time is a fraction of a millisecond when all is well; the upper bounds catch queueing."""

CONTENT_TYPE: Final = b"text/plain; version=0.0.4; charset=utf-8"
"""The classic text format, which every Prometheus version reads (the names here need no escaping)."""
UNKNOWN_ROUTE: Final = "(unknown)"
OTHER: Final = "(other)"
BREAKER_CODES: Final = {"closed": 0, "half_open": 1, "open": 2}


class Histogram:
    """Counts per bucket (not cumulative; the last one is ``+Inf``) and the sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # bisect_left: a value equal to a bound belongs to that bound's bucket (Prometheus' ``le``).
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, float]]:
        out, running = [], 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(float(bound)), float(running)))
        return out


class Row:
    """Everything counted for the requests of one route answered by (or last failed on) one deployment."""

    __slots__ = (
        "cache", "cached_tokens", "deployment", "duration", "errors", "fallbacks", "fell_back", "hedges",
        "input_tokens", "ok", "output_tokens", "overhead", "provider", "retries", "route", "ttft", "upstream",
    )

    def __init__(self, route: str, provider: str, deployment: str) -> None:
        self.route, self.provider, self.deployment = route, provider, deployment
        self.ok = 0
        self.errors: dict[tuple[str, str], int] = {}
        """``(status class, error class)`` → requests."""
        self.duration = Histogram(DURATION_BUCKETS)
        self.ttft = Histogram(TTFT_BUCKETS)
        self.upstream = Histogram(UPSTREAM_BUCKETS)
        self.overhead = Histogram(OVERHEAD_BUCKETS)
        self.input_tokens = self.output_tokens = self.cached_tokens = 0
        self.retries = self.fallbacks = self.hedges = 0
        self.fell_back = 0
        """Requests that moved on to another deployment at least once (``fallbacks`` counts the moves)."""
        self.cache: dict[str, int] = {}
        """Cache outcome (``hit``, ``semantic-hit``, ``miss``, ``skip``) → requests."""

    @property
    def requests(self) -> int:
        return self.ok + sum(self.errors.values())


class _Attempts:
    __slots__ = ("failed", "ok")

    def __init__(self) -> None:
        self.ok = 0
        self.failed: dict[str, int] = {}


class Metrics:
    """The numbers behind ``/metrics``: rows per ``(route, deployment)``, upstream attempts per deployment, cost
    per ``(deployment, feature)``, breaker states and budgets (set by listeners)."""

    def __init__(self, routes: Iterable[str], providers: dict[str, str], *, max_features: int = 100) -> None:
        self.routes = frozenset(routes)
        self.providers = providers
        """Deployment → provider."""
        self.max_features = max_features
        self._rows: dict[str, dict[str, Row]] = {}
        self.attempts: dict[str, _Attempts] = {}
        self.cost: dict[str, dict[str, float]] = {}
        """Deployment → feature (``""``: untagged) → dollars."""
        self._features: set[str] = set()
        self.breakers: dict[str, int] = dict.fromkeys(providers, 0)
        self.budgets: dict[str, tuple[float, float]] = {}
        """Budget name → (spent, limit), as last reported by the governor."""
        self.in_flight = 0

    def route_label(self, name: str | None) -> str:
        if name is None:
            return ""
        return name if name in self.routes else UNKNOWN_ROUTE

    def row(self, route: str, deployment: str) -> Row:
        by_deployment = self._rows.get(route)
        if by_deployment is None:
            by_deployment = self._rows[route] = {}
        row = by_deployment.get(deployment)
        if row is None:
            row = by_deployment[deployment] = Row(route, self.providers.get(deployment, ""), deployment)
        return row

    def rows(self) -> Iterator[Row]:
        for by_deployment in self._rows.values():
            yield from by_deployment.values()

    def attempt(self, deployment: str, error_class: str | None) -> None:
        stats = self.attempts.get(deployment)
        if stats is None:
            stats = self.attempts[deployment] = _Attempts()
        if error_class is None:
            stats.ok += 1
        else:
            stats.failed[error_class] = stats.failed.get(error_class, 0) + 1

    def spend(self, deployment: str, features: tuple[str, ...], usd: float) -> None:
        by_feature = self.cost.get(deployment)
        if by_feature is None:
            by_feature = self.cost[deployment] = {}
        for feature in features or ("",):
            if feature not in self._features:
                if len(self._features) >= self.max_features:
                    feature = OTHER
                else:
                    self._features.add(feature)
            by_feature[feature] = by_feature.get(feature, 0.0) + usd

    # -- exposition ------------------------------------------------------------------------------------------

    def families(self) -> Iterator[Metric]:
        route_labels = ["route", "provider", "deployment"]
        requests = CounterMetricFamily(
            "switchyard_requests", "Finished client requests.", labels=[*route_labels, "status_class", "error_class"]
        )
        histograms = {
            "duration": HistogramMetricFamily(
                "switchyard_request_duration_seconds", "Whole request as the client saw it (streams: to the end).",
                labels=route_labels,
            ),
            "ttft": HistogramMetricFamily(
                "switchyard_time_to_first_token_seconds", "Streams: request start to the first chunk.",
                labels=route_labels,
            ),
            "upstream": HistogramMetricFamily(
                "switchyard_upstream_duration_seconds", "Time spent in upstream calls (streams: to the end).",
                labels=route_labels,
            ),
            "overhead": HistogramMetricFamily(
                "switchyard_gateway_overhead_seconds", "Request duration minus upstream time: the gateway's own.",
                labels=route_labels,
            ),
        }
        tokens = CounterMetricFamily("switchyard_tokens", "Tokens, by type.", labels=[*route_labels, "type"])
        steps = {
            name: CounterMetricFamily(f"switchyard_{name}", doc, labels=route_labels)
            for name, doc in (
                ("retries", "Upstream attempts that repeated a deployment already tried for the request."),
                ("fallbacks", "Upstream attempts that moved on to another deployment."),
                ("hedges", "Hedged attempts that lost the race and were cancelled."),
            )
        }
        cache = CounterMetricFamily(
            "switchyard_cache_requests", "Response cache outcomes.", labels=["route", "outcome"]
        )
        cache_totals: dict[tuple[str, str], int] = {}
        for row in self.rows():
            labels = [row.route, row.provider, row.deployment]
            if row.ok:
                requests.add_metric([*labels, "2xx", ""], row.ok)
            for (status, error), count in row.errors.items():
                requests.add_metric([*labels, status, error], count)
            for name, histogram in histograms.items():
                hist: Histogram = getattr(row, name)
                if hist.count:
                    histogram.add_metric(labels, hist.cumulative(), hist.sum)
            for kind, value in (
                ("input", row.input_tokens), ("output", row.output_tokens), ("cached", row.cached_tokens)
            ):
                if value:
                    tokens.add_metric([*labels, kind], value)
            for name, counter in steps.items():
                counter.add_metric(labels, getattr(row, name))
            for outcome, count in row.cache.items():
                cache_totals[row.route, outcome] = cache_totals.get((row.route, outcome), 0) + count
        for (route, outcome), count in sorted(cache_totals.items()):
            cache.add_metric([route, outcome], count)
        yield requests
        yield from histograms.values()
        yield tokens
        yield from steps.values()
        yield cache
        attempts = CounterMetricFamily(
            "switchyard_upstream_attempts", "Upstream calls; error_class is empty for the ones that answered.",
            labels=["provider", "deployment", "error_class"],
        )
        for deployment, stats in sorted(self.attempts.items()):
            provider = self.providers.get(deployment, "")
            if stats.ok:
                attempts.add_metric([provider, deployment, ""], stats.ok)
            for error, count in sorted(stats.failed.items()):
                attempts.add_metric([provider, deployment, error], count)
        yield attempts
        cost = CounterMetricFamily(
            "switchyard_cost_usd", "Dollars spent on priced requests, by feature tag.",
            labels=["provider", "deployment", "feature"],
        )
        for deployment, by_feature in sorted(self.cost.items()):
            for feature, usd in sorted(by_feature.items()):
                cost.add_metric([self.providers.get(deployment, ""), deployment, feature], usd)
        yield cost
        breakers = GaugeMetricFamily(
            "switchyard_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open.", labels=["deployment"]
        )
        for deployment, code in sorted(self.breakers.items()):
            breakers.add_metric([deployment], code)
        yield breakers
        spent = GaugeMetricFamily("switchyard_budget_spent_usd", "Spend in the budget's window.", labels=["budget"])
        limit = GaugeMetricFamily("switchyard_budget_limit_usd", "The budget's limit.", labels=["budget"])
        for name, (used, cap) in sorted(self.budgets.items()):
            spent.add_metric([name], used)
            limit.add_metric([name], cap)
        yield spent
        yield limit
        yield GaugeMetricFamily("switchyard_in_flight_requests", "Requests admitted and not yet finished.",
                                value=self.in_flight)


class _Collector(Collector):
    def __init__(self, sources: list[Callable[[], Iterable[Metric]]]) -> None:
        self.sources = sources

    def collect(self) -> Iterable[Metric]:
        for source in self.sources:
            yield from source()


def registry(*sources: Callable[[], Iterable[Metric]]) -> CollectorRegistry:
    """A registry of its own per gateway (not prometheus_client's global one), so that two gateways in one
    process never mix their numbers."""
    from prometheus_client import GCCollector, PlatformCollector, ProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(list(sources)))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
