"""Per-deployment RPM/TPM headroom for the ``usage`` strategy.

:class:`UsageSignals` is the seam: the governance rate limiter, which already counts every deployment's requests
and tokens (in the shared store, across replicas), can answer it. Until one is plugged in, :class:`LocalUsage`
counts what this process sent over the last minute, which is exact for one replica.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

__all__ = ["LocalUsage", "UsageSignals"]

_WINDOW_S = 60


@runtime_checkable
class UsageSignals(Protocol):
    def headroom(self, deployment: str) -> float | None:
        """Share of the deployment's tightest limit (RPM or TPM) left in the current window, 0 to 1; ``None``
        when it has no known limit. Called on the hot path: answer from memory, never with I/O."""
        ...


class _Window:
    """Requests and tokens per second over the last minute, with running totals (O(1) to read)."""

    __slots__ = ("buckets", "requests", "tokens")

    def __init__(self) -> None:
        self.buckets: deque[list[int]] = deque()  # [second, requests, tokens]
        self.requests = 0
        self.tokens = 0

    def expire(self, now: int) -> None:
        buckets = self.buckets
        while buckets and buckets[0][0] <= now - _WINDOW_S:
            _, requests, tokens = buckets.popleft()
            self.requests -= requests
            self.tokens -= tokens

    def add(self, now: int, requests: int, tokens: int) -> None:
        self.expire(now)
        if self.buckets and self.buckets[-1][0] == now:
            bucket = self.buckets[-1]
            bucket[1] += requests
            bucket[2] += tokens
        else:
            self.buckets.append([now, requests, tokens])
        self.requests += requests
        self.tokens += tokens


class LocalUsage:
    """Sliding one-minute counts of what this process sent to each deployment. ``limits`` maps a deployment to
    its ``(rpm, tpm)``; deployments without limits have no headroom to report."""

    def __init__(
        self, limits: Mapping[str, tuple[int | None, int | None]], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = {name: pair for name, pair in limits.items() if pair != (None, None)}
        self._windows: dict[str, _Window] = {name: _Window() for name in self.limits}
        self._clock = clock

    def record(self, deployment: str, tokens: int) -> None:
        """One request sent to ``deployment`` that used ``tokens`` (prompt plus answer)."""
        window = self._windows.get(deployment)
        if window is not None:
            window.add(int(self._clock()), 1, tokens)

    def headroom(self, deployment: str) -> float | None:
        window = self._windows.get(deployment)
        if window is None:
            return None
        window.expire(int(self._clock()))
        rpm, tpm = self.limits[deployment]
        left = 1.0
        if rpm:
            left = min(left, 1 - window.requests / rpm)
        if tpm:
            left = min(left, 1 - window.tokens / tpm)
        return max(0.0, left)
