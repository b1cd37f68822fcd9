"""State in this process's memory: the default, and all a single replica needs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .base import R, StateStore, T
from .counters import Counters
from .ops import Admit, AdmitResult, Settle

__all__ = ["MemoryStore"]


class MemoryStore(StateStore):
    """Records live in a dict. ``update`` runs ``fn`` without awaiting, so no other task can interleave: on one
    event loop that is atomic without a lock. ``clock`` (wall time) is injectable for tests."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._records: dict[str, Any] = {}
        self._counters = Counters()
        self._clock = clock

    async def get(self, key: str, type_: type[R]) -> R | None:
        record: R | None = self._records.get(key)
        return record

    def peek(self, key: str, type_: type[R]) -> R | None:
        """:meth:`get` without the await, for hot paths that know the store is local."""
        record: R | None = self._records.get(key)
        return record

    async def update(self, key: str, type_: type[R], fn: Callable[[R | None], tuple[R, T]]) -> T:
        record, result = fn(self._records.get(key))
        self._records[key] = record
        return result

    async def keys(self, prefix: str) -> list[str]:
        return [key for key in self._records if key.startswith(prefix)]

    async def admit(self, op: Admit) -> AdmitResult:
        return self._counters.admit(op, self._clock())

    async def settle(self, op: Settle) -> list[int]:
        return self._counters.settle(op, self._clock())

    async def aclose(self) -> None:
        self._records.clear()
        self._counters = Counters()
