"""The cache's counters and lookup histogram."""

from __future__ import annotations

from switchyard.cache.metrics import CacheMetrics, Histogram


def test_histogram_is_cumulative_like_prometheus() -> None:
    histogram = Histogram((1.0, 5.0))
    for value in (0.5, 1.0, 3.0, 9.0):
        histogram.observe(value)
    assert histogram.snapshot() == {"buckets": [[1.0, 2], [5.0, 3], ["+Inf", 4]], "sum": 13.5, "count": 4}


def test_snapshot_reports_hit_rate_per_route_and_savings() -> None:
    metrics = CacheMetrics()
    metrics.outcome("support", "faq", "hit")
    metrics.outcome("support", "faq", "miss")
    metrics.outcome("support", None, "semantic-hit")
    metrics.outcome(None, None, "skip", "personal")
    metrics.saved("support", 120, 0.002)
    metrics.saved("support", 30, None)
    snap = metrics.snapshot()
    assert snap["totals"] == {"hit": 1, "miss": 1, "semantic-hit": 1, "skip": 1}
    assert snap["hit_rate"] == round(2 / 3, 4)  # skips are not lookups
    assert {"route": "support", "task": "faq", "outcome": "hit", "count": 1} in snap["requests"]
    assert snap["skips"] == {"personal": 1}
    assert (snap["tokens_saved"], snap["usd_saved"]) == ({"support": 150}, {"support": 0.002})
