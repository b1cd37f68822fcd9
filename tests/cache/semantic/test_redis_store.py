"""Two replicas sharing real Redis: each sees the other's inserts, deletes and invalidations; a replica started
later loads what is there; one that fell behind the capped log reloads. Keys live under a fresh namespace."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import numpy as np
import pytest

from switchyard.cache.semantic.cache import SemanticCache
from switchyard.cache.semantic.entry import SemanticEntry
from switchyard.cache.semantic.redis_store import RedisSemanticStore
from switchyard.cache.semantic.store import Added, NamespaceRemoved, Removed
from switchyard.embed import Encoder

CTX = "ctx-1"


@pytest.fixture
def namespace() -> str:
    return f"sytest-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def cleanup(redis_url: str, namespace: str) -> AsyncIterator[None]:
    yield
    store = RedisSemanticStore(redis_url, namespace=namespace)
    await store.flush()
    await store.aclose()


def replica(redis_url: str, namespace: str, encoder: Encoder, **kwargs: int) -> SemanticCache:
    store = RedisSemanticStore(redis_url, namespace=namespace, **kwargs)
    return SemanticCache(store, encoder=encoder, poll_s=0.05)


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, "the replicas did not converge"
        await asyncio.sleep(0.02)


@pytest.mark.usefixtures("cleanup")
async def test_two_replicas_share_inserts_deletes_and_invalidations(
    redis_url: str, namespace: str, encoder: Encoder
) -> None:
    async with replica(redis_url, namespace, encoder) as a, replica(redis_url, namespace, encoder) as b:
        entry_id = await a.insert("tenant", CTX, "How do I reset my Gmail password?", "resp-1", ttl_s=60)
        assert entry_id is not None

        async def b_serves() -> bool:
            hit = await b.lookup("tenant", CTX, "How can I reset my Gmail password?")
            return hit is not None and hit.entry_id == entry_id and hit.response_key == "resp-1"

        await eventually(b_serves)

        assert await b.delete(entry_id) is True

        async def a_forgot() -> bool:
            return entry_id not in a.index

        await eventually(a_forgot)

        await b.insert("tenant", CTX, "What is a monad?", "resp-2", ttl_s=60)
        await b.insert("other", CTX, "What is a monad?", "resp-3", ttl_s=60)
        await eventually(lambda: _sized(a, 2))
        await a.invalidate_namespace("tenant")
        await eventually(lambda: _sized(b, 1))
        assert b.index.exact("other", CTX, "What is a monad?") is not None


async def _sized(cache: SemanticCache, n: int) -> bool:
    return len(cache.index) == n


@pytest.mark.usefixtures("cleanup")
async def test_a_replica_started_later_loads_the_existing_entries(
    redis_url: str, namespace: str, encoder: Encoder
) -> None:
    async with replica(redis_url, namespace, encoder) as a:
        for i, text in enumerate(["What is a monad?", "How do I boil an egg?", "Who wrote Hamlet?"]):
            await a.insert("tenant", CTX, text, f"resp-{i}", ttl_s=60)
        await a.insert("tenant", CTX, "Short-lived question?", "resp-x", ttl_s=0.05)
        await asyncio.sleep(0.1)
        async with replica(redis_url, namespace, encoder) as late:
            await late.wait_ready()
            assert len(late.index) == 3  # the expired one is not loaded
            hit = await late.lookup("tenant", CTX, "who wrote  HAMLET?")
            assert hit is not None
            assert hit.response_key == "resp-2"


@pytest.mark.usefixtures("cleanup")
async def test_a_follower_past_the_capped_log_is_told_to_reload(redis_url: str, namespace: str) -> None:
    store = RedisSemanticStore(redis_url, namespace=namespace, max_log=10)
    try:
        cursor, entries = await store.snapshot()
        assert (cursor, entries) == ("0-0", [])
        vector = np.ones(4, dtype=np.float32) / 2
        for i in range(300):  # "MAXLEN ~" trims whole radix nodes (100 entries), so write several nodes' worth
            await store.put(SemanticEntry(f"e{i}", "t", "c", f"q{i}", vector, "r", time.time() + 60), 60)
        assert (await store.changes(cursor, wait_s=0)).stale
        fresh, entries = await store.snapshot()
        assert len(entries) == 300
        assert not (await store.changes(fresh, wait_s=0)).stale
    finally:
        await store.aclose()


@pytest.mark.usefixtures("cleanup")
async def test_the_log_carries_every_kind_of_change(redis_url: str, namespace: str) -> None:
    store = RedisSemanticStore(redis_url, namespace=namespace)
    try:
        cursor, _ = await store.snapshot()
        vector = np.asarray([1, 0, 0, 0], dtype=np.float32)
        original = SemanticEntry("e1", "t", "c", "q?", vector, "r", time.time() + 60)
        await store.put(original, 60)
        await store.remove(["e1"])
        await store.put(SemanticEntry("e2", "t", "c", "q2?", vector, "r", time.time() + 60), 60)
        assert await store.remove_namespace("t") == 1
        changes = await store.changes(cursor, wait_s=0.1)
        assert [type(e) for e in changes.events] == [Added, Removed, Added, NamespaceRemoved]
        added = changes.events[0]
        assert isinstance(added, Added)
        assert added.entry.text == "q?"
        assert np.array_equal(added.entry.vector, vector)
        assert (await store.snapshot())[1] == []
        quiet = await store.changes(changes.cursor, wait_s=0.05)
        assert (quiet.events, quiet.stale) == ([], False)
    finally:
        await store.aclose()
