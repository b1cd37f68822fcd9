"""Where semantic-cache entries live, and the log every replica follows to keep its index in step.

A store keeps the entries (with their TTL) and an ordered log of changes: ``Added``, ``Removed``,
``NamespaceRemoved``. A replica starts from :meth:`SemanticStore.snapshot` (every live entry, and the log position
it reflects) and then applies :meth:`SemanticStore.changes` after that position. Applying is idempotent, so an
event seen twice (a replica's own insert, applied at once and again from the log) does no harm. When a replica
falls so far behind that the log no longer holds what it missed, ``changes`` says ``stale`` and the replica
starts over from a fresh snapshot.

:class:`MemorySemanticStore` serves one process (several caches in it may share one);
:class:`~.redis_store.RedisSemanticStore` serves every replica of a deployment.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .entry import SemanticEntry

__all__ = ["Added", "Changes", "Event", "MemorySemanticStore", "NamespaceRemoved", "Removed", "SemanticStore"]


@dataclass(frozen=True, slots=True)
class Added:
    entry: SemanticEntry


@dataclass(frozen=True, slots=True)
class Removed:
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NamespaceRemoved:
    namespace: str


Event = Added | Removed | NamespaceRemoved


@dataclass(frozen=True, slots=True)
class Changes:
    cursor: str
    """The position after ``events``: pass it to the next call."""
    events: list[Event]
    stale: bool = False
    """The log no longer reaches back to the cursor given: start over from :meth:`SemanticStore.snapshot`."""


class SemanticStore(Protocol):
    """Shared entries and their change log. Failures raise :class:`~switchyard.errors.StateUnavailableError`."""

    async def put(self, entry: SemanticEntry, ttl_s: float) -> None:
        """Store ``entry`` for ``ttl_s`` seconds and log its addition."""
        ...

    async def remove(self, ids: Sequence[str]) -> None:
        """Delete the entries ``ids`` and log their removal."""
        ...

    async def remove_namespace(self, namespace: str) -> int:
        """Delete every entry of ``namespace`` and log it; how many there were."""
        ...

    async def snapshot(self) -> tuple[str, list[SemanticEntry]]:
        """The log position now, and every live entry (reflecting at least every change up to that position)."""
        ...

    async def changes(self, cursor: str, *, wait_s: float) -> Changes:
        """Changes logged after ``cursor``, waiting up to ``wait_s`` seconds for one if there are none yet."""
        ...

    async def aclose(self) -> None: ...


class MemorySemanticStore:
    """Entries in this process's memory, with a bounded log; for a single replica and for tests."""

    def __init__(self, *, max_log: int = 100_000) -> None:
        self._entries: dict[str, SemanticEntry] = {}
        self._log: deque[tuple[int, Event]] = deque(maxlen=max_log)
        self._seq = 0
        self._puts = 0
        self._changed: asyncio.Condition | None = None

    async def put(self, entry: SemanticEntry, ttl_s: float) -> None:
        self._puts += 1
        if self._puts % 1024 == 0:  # expired entries would otherwise stay until removed by hand
            now = time.time()
            self._entries = {k: e for k, e in self._entries.items() if e.expires_at > now}
        self._entries[entry.id] = entry
        await self._append(Added(entry))

    async def remove(self, ids: Sequence[str]) -> None:
        for entry_id in ids:
            self._entries.pop(entry_id, None)
        await self._append(Removed(tuple(ids)))

    async def remove_namespace(self, namespace: str) -> int:
        doomed = [k for k, e in self._entries.items() if e.namespace == namespace]
        for entry_id in doomed:
            del self._entries[entry_id]
        await self._append(NamespaceRemoved(namespace))
        return len(doomed)

    async def snapshot(self) -> tuple[str, list[SemanticEntry]]:
        now = time.time()
        live = [e for e in self._entries.values() if e.expires_at > now]
        return str(self._seq), live

    async def changes(self, cursor: str, *, wait_s: float) -> Changes:
        after = int(cursor)
        if after < self._seq and (not self._log or self._log[0][0] > after + 1):
            return Changes(str(self._seq), [], stale=True)
        if after >= self._seq and wait_s > 0:
            changed = self._condition()
            # asyncio.timeout, not wait_for: on 3.11 wait_for can turn a cancellation arriving with the timeout into
            # a TimeoutError, and the follower would never stop.
            try:
                async with asyncio.timeout(wait_s), changed:
                    await changed.wait_for(lambda: self._seq > after)
            except TimeoutError:
                return Changes(cursor, [])
        events = [event for seq, event in self._log if seq > after]
        return Changes(str(self._seq), events)

    async def aclose(self) -> None:
        return None

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def _append(self, event: Event) -> None:
        self._seq += 1
        self._log.append((self._seq, event))
        changed = self._condition()
        async with changed:
            changed.notify_all()
