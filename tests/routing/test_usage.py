"""The default usage signals: this process's sliding one-minute counts against each deployment's limits."""

from __future__ import annotations

from switchyard.routing.usage import LocalUsage, UsageSignals


def test_local_usage_window_slides() -> None:
    now = [1000.0]
    usage = LocalUsage({"a": (4, None), "b": (None, None)}, clock=lambda: now[0])
    usage.record("a", 1)
    usage.record("a", 1)
    usage.record("b", 1)
    assert usage.headroom("a") == 0.5
    assert usage.headroom("b") is None
    now[0] += 30
    usage.record("a", 1)
    assert usage.headroom("a") == 0.25
    now[0] += 31  # the first two fall out of the minute
    assert usage.headroom("a") == 0.75
    now[0] += 60
    assert usage.headroom("a") == 1.0


def test_local_usage_is_the_usage_signals_protocol() -> None:
    assert isinstance(LocalUsage({}), UsageSignals)
