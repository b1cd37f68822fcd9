"""The cache's counters, in process: outcomes per route and task class, tokens and dollars saved, and the
lookup latency histogram. Plain numbers behind :meth:`CacheMetrics.snapshot` (``GET /admin/state``), shaped so a
metrics exporter can publish them as labelled counters and a Prometheus-style histogram."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from typing import Any

__all__ = ["LOOKUP_BUCKETS_MS", "CacheMetrics", "Histogram"]

LOOKUP_BUCKETS_MS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0)


class Histogram:
    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def snapshot(self) -> dict[str, Any]:
        cumulative, running = [], 0
        for bound, count in zip([*self.bounds, float("inf")], self.counts, strict=True):
            running += count
            cumulative.append(["+Inf" if bound == float("inf") else bound, running])
        return {"buckets": cumulative, "sum": round(self.sum, 6), "count": self.count}


class CacheMetrics:
    def __init__(self) -> None:
        self.outcomes: Counter[tuple[str, str, str]] = Counter()
        """``(route, task class, outcome)`` → requests; ``-`` for no route or no task class."""
        self.skips: Counter[str] = Counter()
        """Why requests skipped the cache (``personal``, ``temperature``, ``no-cache``...)."""
        self.tokens_saved: Counter[str] = Counter()
        self.usd_saved: dict[str, float] = {}
        self.lookup_ms = Histogram(LOOKUP_BUCKETS_MS)
        """Exact lookups: the backend read."""
        self.semantic_lookup_ms = Histogram(LOOKUP_BUCKETS_MS)
        """Semantic lookups after an exact miss (embedding, index search, verification)."""
        self.stored = 0
        self.evicted_by_feedback = 0
        self.errors = 0
        """Lookups and stores that failed (the backend was unreachable): answered as misses."""

    def outcome(self, route: str | None, task: str | None, outcome: str, reason: str | None = None) -> None:
        self.outcomes[route or "-", task or "-", outcome] += 1
        if reason is not None:
            self.skips[reason] += 1

    def saved(self, route: str | None, tokens: int, usd: float | None) -> None:
        self.tokens_saved[route or "-"] += tokens
        if usd:
            name = route or "-"
            self.usd_saved[name] = self.usd_saved.get(name, 0.0) + usd

    def snapshot(self) -> dict[str, Any]:
        totals: Counter[str] = Counter()
        for (_, _, outcome), count in self.outcomes.items():
            totals[outcome] += count
        looked_up = totals["hit"] + totals["semantic-hit"] + totals["miss"]
        return {
            "requests": [
                {"route": route, "task": task, "outcome": outcome, "count": count}
                for (route, task, outcome), count in sorted(self.outcomes.items())
            ],
            "totals": dict(totals),
            "hit_rate": round((totals["hit"] + totals["semantic-hit"]) / looked_up, 4) if looked_up else None,
            "skips": dict(self.skips),
            "tokens_saved": dict(self.tokens_saved),
            "usd_saved": {route: round(usd, 8) for route, usd in self.usd_saved.items()},
            "lookup_ms": self.lookup_ms.snapshot(),
            "semantic_lookup_ms": self.semantic_lookup_ms.snapshot(),
            "stored": self.stored,
            "evicted_by_feedback": self.evicted_by_feedback,
            "errors": self.errors,
        }
