"""Passive health statistics per deployment: what every call's outcome says about its deployment.

Kept in this process only: they steer this replica's hedging and ranking and feed ``GET /health/providers``.
What must agree across replicas (is the deployment tripped?) is the breaker's job, in the shared store.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["DeploymentHealth", "HealthMonitor"]

ALPHA: Final = 0.2
"""EWMA weight of the newest sample: about the last ten calls dominate."""
SAMPLES: Final = 256
"""Latencies kept for percentiles."""
WINDOW_S: Final = 60.0
"""The window of the reported success and error rates."""


def _ewma(current: float | None, sample: float) -> float:
    return sample if current is None else current + ALPHA * (sample - current)


@dataclass(slots=True)
class DeploymentHealth:
    latency_ms: float | None = None
    """EWMA of complete calls (whole answer, or stream to its end)."""
    ttft_ms: float | None = None
    """EWMA of time to the first streamed chunk."""
    successes: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    """Failures by error class (``UpstreamTimeoutError``...), since start."""
    in_flight: int = 0
    last_error: str = ""
    last_error_at: float = 0.0
    last_success_at: float = 0.0
    recent: deque[tuple[float, bool]] = field(default_factory=lambda: deque(maxlen=1024))
    """(time, succeeded) of recent calls, for the windowed error rate."""
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    ttfts: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))

    def percentile(self, which: str, q: float) -> float | None:
        samples = self.ttfts if which == "ttft" else self.latencies
        if len(samples) < 5:
            return None
        ordered = sorted(samples)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]

    def error_rate(self, now: float) -> float | None:
        recent = [ok for at, ok in self.recent if now - at <= WINDOW_S]
        if not recent:
            return None
        return 1 - sum(recent) / len(recent)


class HealthMonitor:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._stats: dict[str, DeploymentHealth] = {}
        self._clock = clock

    def get(self, deployment: str) -> DeploymentHealth:
        stats = self._stats.get(deployment)
        if stats is None:
            stats = self._stats[deployment] = DeploymentHealth()
        return stats

    def started(self, deployment: str) -> None:
        self.get(deployment).in_flight += 1

    def finished(self, deployment: str) -> None:
        stats = self.get(deployment)
        stats.in_flight = max(0, stats.in_flight - 1)

    def first_token(self, deployment: str, ms: float) -> None:
        stats = self.get(deployment)
        stats.ttft_ms = _ewma(stats.ttft_ms, ms)
        stats.ttfts.append(ms)

    def success(self, deployment: str, ms: float) -> None:
        stats = self.get(deployment)
        now = self._clock()
        stats.successes += 1
        stats.latency_ms = _ewma(stats.latency_ms, ms)
        stats.latencies.append(ms)
        stats.last_success_at = now
        stats.recent.append((now, True))

    def failure(self, deployment: str, error: str, kind: str) -> None:
        stats = self.get(deployment)
        now = self._clock()
        stats.failures[kind] += 1
        stats.last_error = error
        stats.last_error_at = now
        stats.recent.append((now, False))

    def report(self, deployment: str) -> dict[str, Any]:
        stats = self.get(deployment)
        now = self._clock()
        rate = stats.error_rate(now)
        return {
            "latency_ms": _round(stats.latency_ms),
            "latency_p95_ms": _round(stats.percentile("latency", 0.95)),
            "ttft_ms": _round(stats.ttft_ms),
            "ttft_p95_ms": _round(stats.percentile("ttft", 0.95)),
            "error_rate": None if rate is None else round(rate, 4),
            "successes": stats.successes,
            "failures": dict(stats.failures),
            "in_flight": stats.in_flight,
            "last_error": stats.last_error or None,
            "last_error_age_s": round(now - stats.last_error_at, 1) if stats.last_error_at else None,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
