"""Sliding-window request counts in a ring of time buckets: O(1) per request, a fixed few hundred bytes per
deployment, whatever the traffic.

The window slides in steps of one bucket (``window_s / buckets``), so it covers between ``window_s - step`` and
``window_s`` of history. Running totals are kept beside the ring, so reading them costs nothing; expiring a
bucket subtracts it from the totals.
"""

from __future__ import annotations

__all__ = ["SlidingCounts"]


class SlidingCounts:
    """Requests, failures and slow requests (over a latency threshold) in the last ``window_s`` seconds."""

    __slots__ = ("_failed", "_head", "_max_latency", "_n", "_requests", "_slow", "_step", "failed", "requests", "slow")

    def __init__(self, window_s: float, *, buckets: int = 30) -> None:
        if window_s <= 0 or buckets < 1:
            raise ValueError("window_s must be positive and buckets at least 1")
        self._step = window_s / buckets
        self._n = buckets
        self._requests = [0] * buckets
        self._failed = [0] * buckets
        self._slow = [0] * buckets
        self._max_latency = [0.0] * buckets
        self._head: int | None = None
        """Absolute index (time // step) of the newest bucket."""
        self.requests = 0
        self.failed = 0
        self.slow = 0

    def add(self, now: float, *, failed: bool, slow: bool, latency_s: float = 0.0) -> None:
        slot = int(now // self._step)
        if slot <= self._advance_to(slot) - self._n:
            return  # reported late, from before the window: it no longer counts
        # A slightly late report (slot < head, still in the window) goes to its own bucket, which still holds
        # that slot's counts: a bucket is only reused once its slot has left the window.
        i = slot % self._n
        self._requests[i] += 1
        self.requests += 1
        if failed:
            self._failed[i] += 1
            self.failed += 1
        if slow:
            self._slow[i] += 1
            self.slow += 1
        if latency_s > self._max_latency[i]:
            self._max_latency[i] = latency_s

    def advance(self, now: float) -> None:
        """Expire the buckets that ``now`` pushes out of the window."""
        self._advance_to(int(now // self._step))

    def _advance_to(self, slot: int) -> int:
        if self._head is None:
            self._head = slot
            return slot
        if slot <= self._head:
            return self._head
        for expired in range(self._head + 1, self._head + 1 + min(slot - self._head, self._n)):
            i = expired % self._n
            self.requests -= self._requests[i]
            self.failed -= self._failed[i]
            self.slow -= self._slow[i]
            self._requests[i] = self._failed[i] = self._slow[i] = 0
            self._max_latency[i] = 0.0
        self._head = slot
        return slot

    def max_latency(self) -> float:
        """The slowest request in the window (a scan of the ring: for alert texts, not for the hot path)."""
        return max(self._max_latency)
