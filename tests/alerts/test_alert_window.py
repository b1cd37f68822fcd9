"""The bucketed sliding window: counts, expiry, late reports, long silences."""

from __future__ import annotations

import pytest

from switchyard.alerts.window import SlidingCounts

T0 = 1_750_000_000.0


def test_counts_requests_failures_and_slow_requests() -> None:
    window = SlidingCounts(300)
    for i in range(10):
        window.add(T0 + i, failed=i % 5 == 0, slow=i == 3, latency_s=float(i))
    assert (window.requests, window.failed, window.slow) == (10, 2, 1)
    assert window.max_latency() == 9.0


def test_buckets_leave_the_window_one_step_at_a_time() -> None:
    window = SlidingCounts(300, buckets=30)  # 10-second steps
    window.add(T0, failed=True, slow=True, latency_s=12.0)
    window.add(T0 + 100, failed=False, slow=False)
    window.advance(T0 + 290)
    assert window.requests == 2
    window.advance(T0 + 310)
    assert (window.requests, window.failed, window.slow) == (1, 0, 0)
    assert window.max_latency() == 0.0
    window.advance(T0 + 420)
    assert window.requests == 0


def test_a_silence_longer_than_the_window_empties_it() -> None:
    window = SlidingCounts(60, buckets=6)
    for i in range(60):
        window.add(T0 + i, failed=True, slow=False)
    window.add(T0 + 10_000, failed=False, slow=False)
    assert (window.requests, window.failed) == (1, 0)


def test_a_late_report_counts_in_its_own_bucket_or_not_at_all() -> None:
    window = SlidingCounts(300, buckets=30)
    window.add(T0 + 200, failed=False, slow=False)
    window.add(T0 + 150, failed=True, slow=False)  # late, but inside the window
    window.add(T0 - 200, failed=True, slow=False)  # from before the window: ignored
    assert (window.requests, window.failed) == (2, 1)
    window.advance(T0 + 455)  # the late one's bucket leaves, the newest stays
    assert (window.requests, window.failed) == (1, 0)


def test_rejects_an_empty_window() -> None:
    with pytest.raises(ValueError, match="window_s"):
        SlidingCounts(0)
