"""Latency percentiles over recent requests, as the dashboard and ``/admin/metrics`` show them."""

from __future__ import annotations

from switchyard.telemetry.snapshot import Recent


def test_percentiles_are_nearest_rank_in_milliseconds() -> None:
    recent = Recent(size=100)
    for ms in range(1, 101):
        recent.total.append(ms / 1000)
    figures = recent.percentiles()
    assert figures["total"] == {"count": 100, "p50_ms": 50.0, "p90_ms": 90.0, "p95_ms": 95.0, "p99_ms": 99.0}
    assert figures["ttft"] == {"count": 0, "p50_ms": None, "p90_ms": None, "p95_ms": None, "p99_ms": None}


def test_only_the_latest_requests_count() -> None:
    recent = Recent(size=3)
    for seconds in (9.0, 9.0, 9.0, 0.001, 0.002, 0.003):
        recent.upstream.append(seconds)
    assert recent.percentiles()["upstream"]["p99_ms"] == 3.0
