"""State in this process's memory: the default, and all a single replica needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import R, StateStore, T

__all__ = ["MemoryStore"]


class MemoryStore(StateStore):
    """Records live in a dict. ``update`` runs ``fn`` without awaiting, so no other task can interleave: on one
    event loop that is atomic without a lock."""

    def __init__(self) -> None:
        self._records: dict[str, Any] = {}

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

    async def aclose(self) -> None:
        self._records.clear()
