"""One policy for every Redis client of ours (state store, response cache): how an outage is recognised.

A refused connection, or three timeouts in a row, pause calls for ``retry_s`` so no request waits on a dead
socket; a single slow answer fails only its own call, because under a burst the event loop itself can lag.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import StateUnavailableError

__all__ = ["RedisGuard"]

_T = TypeVar("_T")


class RedisGuard:
    def __init__(self, what: str, url: str, retry_s: float) -> None:
        self._what, self._url, self._retry_s = what, url, retry_s
        self._down_until = 0.0
        self._timeouts = 0
        self.errors = 0
        """Calls that failed because Redis was unreachable (exported as a metric)."""

    async def call(self, fn: Callable[[], Awaitable[_T]]) -> _T:
        if self._down_until and time.monotonic() < self._down_until:
            raise StateUnavailableError(f"{self._what} {self._url} is unreachable (retrying shortly)")
        try:
            result = await fn()
        except (RedisError, OSError) as exc:
            self.errors += 1
            timeout = isinstance(exc, RedisTimeoutError | TimeoutError)
            self._timeouts = self._timeouts + 1 if timeout else 0
            if not timeout or self._timeouts >= 3:
                self._down_until = time.monotonic() + self._retry_s
            raise StateUnavailableError(f"{self._what} {self._url} is unreachable: {type(exc).__name__}") from exc
        self._down_until = 0.0
        self._timeouts = 0
        return result
