"""What the gateway tells telemetry, and what telemetry makes of it: metrics, a log line and spans per request.

The gateway calls four hooks: :meth:`Telemetry.begin` at admission, :meth:`Telemetry.finish` once per request
that was planned (answered, failed, rejected by governance or served from the cache), :meth:`Telemetry.unplanned`
when no plan could be made (an unknown model), and the executor's per-attempt hook :attr:`Telemetry.on_attempt`
(only set while tracing is on). The server adds :meth:`Telemetry.refused` for requests turned away before they
reach the gateway (bad key, unreadable body). Breaker and budget changes arrive through the breaker's and the
governor's listener lists; gauges that live elsewhere (ledger, state store, cache) are read at scrape time.

Definitions (also in ``deploy/README.md``): *upstream* time is the sum of the attempts' durations, and for a
stream also everything after its first chunk; *gateway overhead* is the request's duration minus that, so it
holds admission, routing, the cache lookup and backoff waits between attempts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..errors import AllAttemptsFailedError, ConfigError, SwitchyardError, UpstreamError
from ..types import Attempt, ChatRequest, ResponseMeta, Usage
from . import logs
from .logs import REQUEST_LOGGER, Redactor, secrets_of
from .metrics import BREAKER_CODES, Metrics, Row, exposition, registry
from .snapshot import Recent, deployment_figures, snapshot

if TYPE_CHECKING:
    from ..config import Config
    from ..gateway import Gateway
    from ..governance.governor import Ticket
    from ..providers.base import Deployment
    from ..resilience.executor import AttemptHook
    from .tracing import Operation, Tracing

__all__ = ["Telemetry"]

_HEDGE_LOST = "cancelled: a hedged"


class _Text(Protocol):
    @property
    def text(self) -> str: ...


class Telemetry:
    def __init__(self, config: Config, deployments: dict[str, Deployment], names: Iterable[str]) -> None:
        """``names``: what clients may send as ``model`` (deployments and routes), the ``route`` label's values."""
        settings = config.telemetry
        self.settings = settings
        providers = {name: d.provider for name, d in deployments.items()}
        self.metrics = Metrics(names, providers, max_features=settings.max_feature_labels) if settings.metrics else None
        self.recent = Recent()
        self._models = {name: d.model for name, d in deployments.items()}
        self._log = logging.getLogger(REQUEST_LOGGER)
        secrets = secrets_of(config)
        self.redact = Redactor(secrets)
        self._bodies = None
        if settings.log_bodies:
            self._bodies = Redactor(secrets, pii=settings.redact_pii, patterns=settings.redact_patterns)
        self._exported_budgets = _exported_budgets(config)
        self.tracing: Tracing | None = _tracing(config, deployments) if settings.tracing.enabled else None
        self.on_attempt: AttemptHook | None = self.tracing.attempt if self.tracing is not None else None
        """The executor's per-attempt hook: ``None`` unless tracing, so that the walk skips it entirely."""
        self._gateway: Gateway | None = None
        self._registry: CollectorRegistry | None = None

    def bind(self, gateway: Gateway) -> None:
        """Subscribe to the gateway's breaker and governor, and read its ledger, state store and cache on scrape."""
        self._gateway = gateway
        gateway.breaker.listeners.append(self.on_breaker)
        gateway.governor.listeners.append(self.on_budget)

    # -- hooks -------------------------------------------------------------------------------------------------

    def begin(self, request: ChatRequest, member: str, operation: Operation = "chat") -> None:
        if self.metrics is not None:
            self.metrics.in_flight += 1
        if self.tracing is not None:
            self.tracing.begin(request, member, operation)

    def finish(
        self,
        ticket: Ticket,
        request: ChatRequest,
        started: float,
        meta: ResponseMeta | None,
        usage: Usage | None,
        cost: float | None,
        error: BaseException | None,
        *,
        first_token: float | None = None,
        output: _Text | None = None,
    ) -> None:
        """A planned request is over: answered, failed, rejected by governance or served from the cache."""
        now = time.time()
        total = now - started
        if meta is not None:
            deployment = meta.deployment
            tried: Sequence[Attempt] | Sequence[tuple[str, str]] = meta.attempts
            upstream: float | None = sum(a.latency_ms for a in meta.attempts) / 1000
            if first_token is not None:
                upstream = (upstream or 0.0) + now - first_token
        else:
            tried = _failed_attempts(error)
            deployment = tried[-1][0] if tried else ""
            upstream = None  # failed before answering: the attempts' durations are not known here
        metrics = self.metrics
        if metrics is not None:
            metrics.in_flight -= 1
            row = metrics.row(metrics.route_label(request.model), deployment)
            _count(row, error)
            row.duration.observe(total)
            self.recent.total.append(total)
            if upstream is not None and meta is not None and meta.attempts:
                overhead = max(0.0, total - upstream)
                row.upstream.observe(upstream)
                row.overhead.observe(overhead)
                self.recent.upstream.append(upstream)
                self.recent.overhead.append(overhead)
            if first_token is not None:
                row.ttft.observe(first_token - started)
                self.recent.ttft.append(first_token - started)
            if usage is not None:
                row.input_tokens += usage.input_tokens
                row.output_tokens += usage.output_tokens
                row.cached_tokens += usage.cached_tokens
            if tried:
                _steps(metrics, row, tried)
            if meta is not None and meta.cache is not None:
                row.cache[meta.cache] = row.cache.get(meta.cache, 0) + 1
            if cost and deployment:
                metrics.spend(deployment, ticket.principal.features, cost)
        if self._log.isEnabledFor(logging.INFO):
            self._line(ticket, request, total, meta, deployment, usage, cost, error, upstream, first_token, started,
                       len(tried), output)
        if self.tracing is not None:
            self.tracing.finish(request, ticket.member, self._span_attributes(
                ticket, deployment, usage, cost, meta, len(tried), output
            ), error)

    def unplanned(self, request: ChatRequest, member: str, started: float, error: SwitchyardError) -> None:
        """No plan could be made (unknown model, no candidate left): counted with no deployment."""
        total = time.time() - started
        if self.metrics is not None:
            self.metrics.in_flight -= 1
            row = self.metrics.row(self.metrics.route_label(request.model), "")
            _count(row, error)
            row.duration.observe(total)
        if self._log.isEnabledFor(logging.INFO):
            self._emit({"request_id": member, "route": request.model, "status": error.status_code,
                        "error": type(error).__name__, "error_message": self.redact(error.message),
                        "latency_ms": round(total * 1000, 3)})
        if self.tracing is not None:
            self.tracing.finish(request, member, {}, error)

    def refused(self, model: str | None, request_id: str, error: SwitchyardError) -> None:
        """The server turned a chat request away before the gateway saw it (authentication, an unreadable body)."""
        if self.metrics is not None:
            _count(self.metrics.row(self.metrics.route_label(model) if model else "", ""), error)
        if self._log.isEnabledFor(logging.INFO):
            fields = {"request_id": request_id, "status": error.status_code, "error": type(error).__name__,
                      "error_message": self.redact(error.message)}
            if model:
                fields["route"] = model
            self._emit(fields)

    def on_breaker(self, deployment: str, state: str) -> None:
        if self.metrics is not None:
            self.metrics.breakers[deployment] = BREAKER_CODES.get(state, 0)

    def on_budget(self, name: str, spent: float, limit: float, alert_at: float) -> None:
        # Budgets kept per member (every user, every key) would put user names and key ids in labels: only the
        # global budget and budgets the configuration names are exported.
        if self.metrics is not None and name.startswith(self._exported_budgets):
            self.metrics.budgets[name] = (spent, limit)

    # -- reading -----------------------------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """``GET /metrics``: Prometheus' text format."""
        if self._registry is None:
            sources: list[Callable[[], Iterable[Metric]]] = [self._gateway_families]
            if self.metrics is not None:
                sources.insert(0, self.metrics.families)
            self._registry = registry(*sources)
        return exposition(self._registry)

    def snapshot(self) -> dict[str, Any]:
        """The same figures as JSON (``GET /admin/metrics``, the dashboard)."""
        if self.metrics is None:
            return {"enabled": False}
        return {"enabled": True, **snapshot(self.metrics, self.recent), **self._gateway_state()}

    def deployments(self) -> dict[str, dict[str, Any]]:
        """Per-deployment traffic figures for ``GET /health/providers``."""
        return deployment_figures(self.metrics) if self.metrics is not None else {}

    async def aclose(self) -> None:
        if self.tracing is not None:
            await self.tracing.aclose()

    # -- internals ---------------------------------------------------------------------------------------------

    def _line(
        self, ticket: Ticket, request: ChatRequest, total: float, meta: ResponseMeta | None, deployment: str,
        usage: Usage | None, cost: float | None, error: BaseException | None, upstream: float | None,
        first_token: float | None, started: float, attempts: int, output: _Text | None,
    ) -> None:
        # Only the keys that have a value, set one by one: one dict per line, nothing filtered afterwards.
        principal = ticket.principal
        fields: dict[str, Any] = {"request_id": ticket.member, "route": request.model}
        if deployment:
            fields["provider"] = self.metrics.providers.get(deployment) if self.metrics is not None else None
            fields["deployment"] = deployment
            fields["model"] = self._models.get(deployment)
        fields["status"] = _status_code(error)
        if error is not None:
            fields["error"] = type(error).__name__
            if isinstance(error, SwitchyardError):
                fields["error_message"] = self.redact(error.message)
        fields["latency_ms"] = round(total * 1000, 3)
        if first_token is not None:
            fields["ttft_ms"] = round((first_token - started) * 1000, 3)
        if upstream is not None:
            fields["upstream_ms"] = round(upstream * 1000, 3)
        if usage is not None:
            fields["input_tokens"] = usage.input_tokens
            fields["output_tokens"] = usage.output_tokens
        if cost is not None:
            fields["cost_usd"] = cost
        fields["attempts"] = attempts
        if meta is not None:
            if attempts > 1:
                fields["tried"] = [a.deployment for a in meta.attempts]
            if meta.cache is not None:
                fields["cache"] = meta.cache
        if ticket.tier is not None:
            fields["tier"] = ticket.tier
        fields["stream"] = request.stream
        if principal.key is not None:
            fields["key_id"] = principal.key.id
        if principal.user is not None:
            fields["user"] = principal.user
        if principal.team is not None:
            fields["team"] = principal.team
        if principal.features:
            fields["features"] = list(principal.features)
        if self.tracing is not None:
            fields["trace_id"] = self.tracing.trace_id(request, ticket.member)
        if self._bodies is not None:
            fields["request_body"] = [{"role": m.role, "content": self._bodies(m.text)} for m in request.messages]
            if output is not None:
                fields["response_body"] = self._bodies(output.text)
        self._emit(fields)

    def _emit(self, fields: dict[str, Any]) -> None:
        # The server's own JSON handler, alone on the root logger, takes the fields without a LogRecord.
        sink = logs.request_sink
        if sink is not None and sink.takes_requests_directly(self._log):
            sink.write_request(fields)
            return
        # Straight to the handlers: the level was checked by the caller, and the caller's frame (which
        # ``Logger.info`` would look up) is always this one.
        record = self._log.makeRecord(REQUEST_LOGGER, logging.INFO, __file__, 0, "request", (), None)
        record.switchyard = fields
        self._log.handle(record)

    def _span_attributes(
        self, ticket: Ticket, deployment: str, usage: Usage | None, cost: float | None, meta: ResponseMeta | None,
        attempts: int, output: _Text | None,
    ) -> dict[str, Any]:
        from .tracing import response_attributes

        attributes: dict[str, Any] = {
            "switchyard.route": ticket.plan.route,
            "switchyard.deployment": deployment or None,
            "switchyard.provider": self.metrics.providers.get(deployment) if self.metrics is not None else None,
            "gen_ai.system": self.tracing.systems.get(deployment) if self.tracing is not None else None,
            "gen_ai.response.model": self._models.get(deployment),
            "switchyard.attempts": attempts,
            "switchyard.cost_usd": cost,
            "switchyard.cache": meta.cache if meta is not None else None,
            "switchyard.tier": ticket.tier,
        }
        from ..types import ChatResponse

        if isinstance(output, ChatResponse):
            attributes.update(response_attributes(output))
        if usage is not None:
            attributes["gen_ai.usage.input_tokens"] = usage.input_tokens
            attributes["gen_ai.usage.output_tokens"] = usage.output_tokens
        return attributes

    def _gateway_state(self) -> dict[str, Any]:
        gateway = self._gateway
        if gateway is None:
            return {}
        return {
            "ledger": gateway.ledger.stats() if gateway.ledger is not None else None,
            "state_store_unavailable": gateway.governor.unavailable,
        }

    def _gateway_families(self) -> Iterator[Metric]:
        gateway = self._gateway
        if gateway is None:
            return
        yield CounterMetricFamily(
            "switchyard_state_store_unavailable", "Requests admitted uncounted (or refused) with the state store down.",
            value=gateway.governor.unavailable,
        )
        ledger = gateway.ledger
        if ledger is not None:
            stats = ledger.stats()
            yield GaugeMetricFamily("switchyard_ledger_buffered_records", "Usage records waiting to be written.",
                                    value=float(stats["buffered"] or 0))
            for key, doc in (
                ("written", "Usage records written."),
                ("dropped", "Usage records dropped: the buffer was full while the database was unreachable."),
                ("write_errors", "Failed ledger writes (retried)."),
            ):
                yield CounterMetricFamily(f"switchyard_ledger_{key}_records" if key != "write_errors"
                                          else "switchyard_ledger_write_errors", doc, value=float(stats[key] or 0))
        cache = gateway.cache
        if cache is not None:
            saved_tokens = CounterMetricFamily("switchyard_cache_saved_tokens", "Tokens answered from the cache.",
                                               labels=["route"])
            for route, tokens in sorted(cache.metrics.tokens_saved.items()):
                saved_tokens.add_metric([route], tokens)
            saved_usd = CounterMetricFamily("switchyard_cache_saved_usd", "Dollars the cache's answers would have "
                                            "cost.", labels=["route"])
            for route, usd in sorted(cache.metrics.usd_saved.items()):
                saved_usd.add_metric([route], usd)
            yield saved_tokens
            yield saved_usd


def _status_code(error: BaseException | None) -> int:
    if error is None:
        return 200
    return error.status_code if isinstance(error, SwitchyardError) else 499


def _count(row: Row, error: BaseException | None) -> None:
    if error is None:
        row.ok += 1
        return
    if isinstance(error, SwitchyardError):
        key = (f"{error.status_code // 100}xx", type(error).__name__)
    else:
        key = ("5xx", type(error).__name__)
    row.errors[key] = row.errors.get(key, 0) + 1


def _failed_attempts(error: BaseException | None) -> list[tuple[str, str]]:
    """``(deployment, error class)`` of each failed call, from the error a walk ended with."""
    if isinstance(error, AllAttemptsFailedError):
        return [(e.deployment, type(e).__name__) for e in error.errors]
    if isinstance(error, UpstreamError) and error.deployment:
        return [(error.deployment, type(error).__name__)]
    return []


def _steps(metrics: Metrics, row: Row, tried: Sequence[Attempt] | Sequence[tuple[str, str]]) -> None:
    """Per attempt: its outcome; per request: retries (a deployment again), fallbacks (another one), hedges."""
    seen: list[str] = []
    moved = False
    for attempt in tried:
        if isinstance(attempt, Attempt):
            name, message = attempt.deployment, attempt.error
            error_class = None if message is None else message.split(":", 1)[0].split(" ", 1)[0]
            if message is not None and message.startswith(_HEDGE_LOST):
                row.hedges += 1
                error_class = "cancelled"
        else:
            name, error_class = attempt
        metrics.attempt(name, error_class)
        if name in seen:
            row.retries += 1
        elif seen:
            row.fallbacks += 1
            moved = True
        seen.append(name)
    if moved:
        row.fell_back += 1


def _exported_budgets(config: Config) -> tuple[str, ...]:
    prefixes = []
    for budget in config.governance.budgets:
        if budget.scope == "global":
            prefixes.append("global ")
        elif budget.name is not None:
            prefixes.append(f"{budget.scope} '{budget.name}' ")
    return tuple(prefixes)


def _tracing(config: Config, deployments: dict[str, Deployment]) -> Tracing:
    try:
        from .tracing import GEN_AI_SYSTEMS, Tracing
    except ImportError as exc:
        raise ConfigError(
            "tracing needs the OpenTelemetry SDK: pip install 'switchyard[tracing]'", key="telemetry.tracing.enabled"
        ) from exc
    systems = {}
    for name, deployment in deployments.items():
        kind = config.providers[config.models[name].provider].type if name in config.models else deployment.provider
        systems[name] = GEN_AI_SYSTEMS.get(kind, kind)
    return Tracing(config.telemetry.tracing, systems)
