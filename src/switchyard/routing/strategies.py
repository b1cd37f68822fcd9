"""Ranking strategies: how a route orders the deployments that passed the filters.

Each strategy has ``prepare`` (once, at start-up, per candidate list) and ``rank`` (per request, over the
filtered list, which keeps the prepared order). Strategies whose order does not depend on the request or on live
statistics (``priority``, ``quality``) do all their work in ``prepare``; ``rank`` returns its input.

Live signals are read from memory only (the health monitor's statistics, the usage signals), never the state
store, so ranking costs microseconds.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final, Protocol

from ..resilience.health import HealthMonitor
from .needs import Needs
from .targets import Target
from .usage import UsageSignals

__all__ = ["Cost", "Latency", "LeastBusy", "Priority", "Quality", "Strategy", "Usage", "Weighted"]

TYPICAL_OUTPUT_TOKENS: Final = 512
"""Answer length assumed by ``cost`` when the request sets no ``max_tokens``: the ranking weighs output prices
by a typical answer rather than by the worst case that budgets reserve."""


class Strategy(Protocol):
    name: str

    def prepare(self, targets: tuple[Target, ...]) -> tuple[Target, ...]:
        """Order a candidate list once, at start-up."""
        ...

    def rank(self, targets: tuple[Target, ...], needs: Needs) -> Sequence[Target]:
        """Order one request's filtered candidates, best first."""
        ...


class Priority:
    """As configured."""

    name = "priority"

    def prepare(self, targets: tuple[Target, ...]) -> tuple[Target, ...]:
        return targets

    def rank(self, targets: tuple[Target, ...], needs: Needs) -> Sequence[Target]:
        return targets


class Quality(Priority):
    """Highest ``quality`` first; models without a score last, in configured order."""

    name = "quality"

    def prepare(self, targets: tuple[Target, ...]) -> tuple[Target, ...]:
        return tuple(sorted(targets, key=lambda t: -t.quality if t.quality is not None else math.inf))


class Weighted:
    """A random order in which each deployment comes first with probability proportional to its weight (and so
    on down the list: weighted sampling without replacement, by Efraimidis-Spirakis keys ``u ** (1 / w)``)."""

    name = "weighted"

    def __init__(self, weights: Mapping[str, float], rng: random.Random) -> None:
        self.weights = dict(weights)
        self.rng = rng

    def prepare(self, targets: tuple[Target, ...]) -> tuple[Target, ...]:
        return targets

    def rank(self, targets: tuple[Target, ...], needs: Needs) -> Sequence[Target]:
        if len(targets) < 2:
            return targets
        weights, draw = self.weights, self.rng.random

        def key(target: Target) -> float:
            weight = weights.get(target.name, target.weight)
            # A zero weight never comes first but stays in the list, as a last resort.
            return draw() ** (1 / weight) if weight > 0 else -1.0

        return sorted(targets, key=key, reverse=True)


class LeastBusy:
    """Fewest requests in flight from this process first; ties keep the configured order."""

    name = "least-busy"

    def __init__(self, health: HealthMonitor) -> None:
        self.health = health

    def prepare(self, targets: tuple[Target, ...]) -> tuple[Target, ...]:
        return targets

    def rank(self, targets: tuple[Target, ...], needs: Needs) -> Sequence[Target]:
        get = self.health.get
        return sorted(targets, key=lambda t: get(t.name).in_flight)


class Latency:
    """Lowest recent latency first: the moving average, or a percentile of recent calls; for streams, time to
    the first token. Deployments never measured go first, so each gets measured; with probability ``explore`` a
    random other candidate is moved to the front, so that one slow spell does not starve a deployment of the
    traffic its statistics need to recover."""

    name = "latency"
    refresh_s: Final = 1.0
    """Percentiles sort up to 256 samples: computed at most this often per deployment, not per request."""

    def __init__(
        self,
        health: HealthMonitor,
        rng: random.Random,
        *,
        percentile: float | None,
        explore: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.health = health
        self.rng = rng
        self.percentile = percentile
        self.explore = explore
        self.clock = clock
        self._cached: dict[tuple[str, str], tuple[float, float | None]] = {}

    def prepare(self, targets: tuple[Target, ...]) -> tuple[Target, ...]:
        return targets

    def observed(self, deployment: str, stream: bool) -> float | None:
        """Milliseconds this strategy ranks ``deployment`` by; ``None``: not measured yet."""
        stats = self.health.get(deployment)
        if self.percentile is None:
            return stats.ttft_ms if stream else stats.latency_ms
        which = "ttft" if stream else "latency"
        now = self.clock()
        cached = self._cached.get((deployment, which))
        if cached is not None and cached[0] > now:
            return cached[1]
        value = stats.percentile(which, self.percentile)
        if value is None:
            # Fewer samples than a percentile needs: the moving average is better than nothing.
            value = stats.ttft_ms if stream else stats.latency_ms
        self._cached[(deployment, which)] = (now + self.refresh_s, value)
        return value

    def rank(self, targets: tuple[Target, ...], needs: Needs) -> Sequence[Target]:
        if len(targets) < 2:
            return targets
        stream = needs.request.stream

        def key(target: Target) -> float:
            value = self.observed(target.name, stream)
            return -1.0 if value is None else value

        ranked = sorted(targets, key=key)
        if self.explore and self.rng.random() < self.explore:
            ranked.insert(0, ranked.pop(self.rng.randrange(1, len(ranked))))
        return ranked


class Cost:
    """Cheapest first for this request: its estimated prompt tokens and expected answer at each deployment's
    rates (long-context tiers included). Unknown prices go last, in configured order: unknown is not free."""

    name = "cost"

    def prepare(self, targets: tuple[Target, ...]) -> tuple[Target, ...]:
        return targets

    def rank(self, targets: tuple[Target, ...], needs: Needs) -> Sequence[Target]:
        if len(targets) < 2:
            return targets
        prompt = needs.prompt_tokens
        output = needs.request.max_tokens or TYPICAL_OUTPUT_TOKENS

        def key(target: Target) -> float:
            price = target.price
            if price is None:
                return math.inf
            if price.long_context is None:
                return prompt * price.input_per_mtok + output * price.output_per_mtok
            rates = price.rates(prompt)
            return prompt * rates.input_per_mtok + output * rates.output_per_mtok

        return sorted(targets, key=key)


class Usage:
    """Most RPM/TPM headroom first, so traffic spreads before any deployment nears its provider limit.
    Deployments without limits count as having all their headroom; ties keep the configured order."""

    name = "usage"

    def __init__(self, signals: Callable[[], UsageSignals]) -> None:
        # A getter, not the object: the integrator's rate limiter may be plugged in after the routes are built.
        self.signals = signals

    def prepare(self, targets: tuple[Target, ...]) -> tuple[Target, ...]:
        return targets

    def rank(self, targets: tuple[Target, ...], needs: Needs) -> Sequence[Target]:
        headroom = self.signals().headroom

        def key(target: Target) -> float:
            left = headroom(target.name)
            return -(1.0 if left is None else left)

        return sorted(targets, key=key)
