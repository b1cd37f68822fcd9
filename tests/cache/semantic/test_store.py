"""The in-memory store's change log: ordered events, waiting for news, and a stale cursor past the cap."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from switchyard.cache.semantic.entry import SemanticEntry
from switchyard.cache.semantic.store import Added, MemorySemanticStore, NamespaceRemoved, Removed


def entry(i: int, ns: str = "t", expires_at: float | None = None) -> SemanticEntry:
    vector = np.zeros(4, dtype=np.float32)
    vector[i % 4] = 1.0
    return SemanticEntry(f"e{i}", ns, "c", f"q{i}", vector, f"r{i}", expires_at or time.time() + 60)


async def test_snapshot_then_changes_in_order() -> None:
    store = MemorySemanticStore()
    await store.put(entry(0), 60)
    cursor, entries = await store.snapshot()
    assert [e.id for e in entries] == ["e0"]
    await store.put(entry(1), 60)
    await store.remove(["e0"])
    await store.remove_namespace("t")
    changes = await store.changes(cursor, wait_s=0)
    assert not changes.stale
    kinds = [type(e) for e in changes.events]
    assert kinds == [Added, Removed, NamespaceRemoved]
    assert (await store.changes(changes.cursor, wait_s=0)).events == []
    assert (await store.snapshot())[1] == []


async def test_changes_wait_for_the_next_event() -> None:
    store = MemorySemanticStore()
    cursor, _ = await store.snapshot()
    waiting = asyncio.create_task(store.changes(cursor, wait_s=2))
    await asyncio.sleep(0.02)
    assert not waiting.done()
    await store.put(entry(0), 60)
    changes = await asyncio.wait_for(waiting, 1)
    assert [type(e) for e in changes.events] == [Added]
    quiet = await store.changes(changes.cursor, wait_s=0.02)
    assert quiet.events == []
    assert quiet.cursor == changes.cursor


async def test_a_cursor_older_than_the_log_is_stale() -> None:
    store = MemorySemanticStore(max_log=3)
    cursor, _ = await store.snapshot()
    for i in range(5):
        await store.put(entry(i), 60)
    assert (await store.changes(cursor, wait_s=0)).stale


async def test_expired_entries_are_left_out_of_snapshots() -> None:
    store = MemorySemanticStore()
    await store.put(entry(0, expires_at=time.time() - 1), 60)
    await store.put(entry(1), 60)
    assert [e.id for e in (await store.snapshot())[1]] == ["e1"]
