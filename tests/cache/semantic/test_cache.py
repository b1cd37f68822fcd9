"""SemanticCache over the in-memory store: the lookup stages, inserts, deletes, invalidation, failures."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import pytest

from switchyard.cache.semantic.cache import SemanticCache
from switchyard.cache.semantic.index import HNSW_AVAILABLE
from switchyard.cache.semantic.redis_store import RedisSemanticStore
from switchyard.cache.semantic.store import Changes, MemorySemanticStore
from switchyard.embed import Encoder

CTX = b"\x01" * 16
SERVED = "How do I reset my Gmail password?"
REWORDED = "How can I reset my Gmail password?"


@pytest.fixture
async def cache(encoder: Encoder) -> AsyncIterator[SemanticCache]:
    async with SemanticCache(MemorySemanticStore(), encoder=encoder, poll_s=0.05) as sem:
        yield sem


async def test_nothing_cached_in_the_context_is_a_miss_without_embedding(cache: SemanticCache) -> None:
    assert await cache.lookup("tenant", CTX, SERVED) is None
    assert cache.stats.empty_context == 1
    assert cache.stats.embeddings == 0


async def test_same_text_once_normalised_is_an_exact_hit_without_embedding(cache: SemanticCache) -> None:
    entry_id = await cache.insert("tenant", CTX, SERVED, "resp-1", ttl_s=60)
    embedded = cache.stats.embeddings
    hit = await cache.lookup("tenant", CTX, "how do I reset my  gmail password ?")
    assert hit is not None
    assert (hit.entry_id, hit.response_key, hit.exact, hit.score) == (entry_id, "resp-1", True, 1.0)
    assert cache.stats.embeddings == embedded


async def test_a_rewording_is_served_and_a_hard_negative_is_not(cache: SemanticCache) -> None:
    await cache.insert("tenant", CTX, SERVED, "resp-1", ttl_s=60)
    hit = await cache.lookup("tenant", CTX, REWORDED)
    assert hit is not None
    assert hit.response_key == "resp-1"
    assert not hit.exact
    assert hit.score >= cache.verifier.threshold
    assert hit.similarity > 0.9
    assert await cache.lookup("tenant", CTX, "How do I reset my Outlook password?") is None
    assert await cache.lookup("tenant", CTX, "Why can't I reset my Gmail password?") is None
    assert await cache.lookup("tenant", CTX, "How do I reset my Gmail password twice?") is None
    assert cache.stats.semantic_hits == 1


async def test_context_and_namespace_must_match_exactly(cache: SemanticCache) -> None:
    await cache.insert("tenant", CTX, SERVED, "resp-1", ttl_s=60)
    assert await cache.lookup("tenant", b"\x02" * 16, SERVED) is None
    assert await cache.lookup("other-tenant", CTX, SERVED) is None


async def test_a_stricter_task_threshold_turns_a_hit_into_a_miss(encoder: Encoder) -> None:
    async with SemanticCache(MemorySemanticStore(), encoder=encoder) as sem:
        sem.verifier = sem.verifier.with_thresholds(task_thresholds={"math": 0.999})
        await sem.insert("tenant", CTX, SERVED, "resp-1", ttl_s=60)
        assert await sem.lookup("tenant", CTX, REWORDED, task="chat") is not None
        assert await sem.lookup("tenant", CTX, REWORDED, task="math") is None
        assert sem.stats.rejected == 1


async def test_insert_after_a_miss_reuses_the_lookups_embedding(cache: SemanticCache) -> None:
    await cache.insert("tenant", CTX, "What is the capital of France?", "resp-0", ttl_s=60)
    assert await cache.lookup("tenant", CTX, SERVED) is None
    embedded = cache.stats.embeddings
    await cache.insert("tenant", CTX, SERVED, "resp-1", ttl_s=60)
    assert cache.stats.embeddings == embedded
    # Inserting the same text again returns the existing entry instead of a duplicate.
    first = cache.index.exact("tenant", CTX.hex(), SERVED)
    assert first is not None
    assert await cache.insert("tenant", CTX, SERVED + " ", "resp-2", ttl_s=60) == first.id


async def test_delete_and_namespace_invalidation(cache: SemanticCache) -> None:
    entry_id = await cache.insert("tenant", CTX, SERVED, "resp-1", ttl_s=60)
    assert entry_id is not None
    assert await cache.delete(entry_id) is True
    assert await cache.lookup("tenant", CTX, SERVED) is None
    await cache.insert("tenant", CTX, SERVED, "resp-1", ttl_s=60)
    await cache.insert("tenant", b"\x03" * 16, "What is a monad?", "resp-2", ttl_s=60)
    assert await cache.invalidate_namespace("tenant") == 2
    assert len(cache.index) == 0


async def test_expired_entries_are_never_served(cache: SemanticCache) -> None:
    await cache.insert("tenant", CTX, SERVED, "resp-1", ttl_s=0.05)
    await asyncio.sleep(0.1)
    assert await cache.lookup("tenant", CTX, SERVED) is None
    assert await cache.lookup("tenant", CTX, REWORDED) is None


async def test_an_unreachable_store_costs_hits_never_errors(encoder: Encoder) -> None:
    # Port 9 (discard) is closed on 127.0.0.1: every store call fails fast with a refused connection.
    store = RedisSemanticStore("redis://127.0.0.1:9/0", timeout_s=0.2)
    async with SemanticCache(store, encoder=encoder, poll_s=0.05) as sem:
        assert await sem.insert("tenant", CTX, SERVED, "resp-1", ttl_s=60) is None
        assert await sem.lookup("tenant", CTX, SERVED) is None
        assert await sem.delete("missing") is False
        assert await sem.invalidate_namespace("tenant") == 0
        assert sem.stats.store_errors >= 4


@pytest.mark.skipif(not HNSW_AVAILABLE, reason="hnswlib is not installed")
async def test_a_growing_group_gets_its_graph_built_off_the_loop(encoder: Encoder) -> None:
    async with SemanticCache(MemorySemanticStore(), encoder=encoder, hnsw_from=8) as sem:
        for i in range(10):
            await sem.insert("tenant", CTX, f"What is the boiling point of liquid number {i}?", f"r{i}", ttl_s=60)
        for _ in range(200):
            if sem.index.has_graph("tenant", CTX.hex()):
                break
            await asyncio.sleep(0.01)
        assert sem.index.has_graph("tenant", CTX.hex())
        hit = await sem.lookup("tenant", CTX, "what is the boiling point of liquid number 7 ?")
        assert hit is not None
        assert hit.response_key == "r7"


class SendingStore(MemorySemanticStore):
    """Polls as :class:`RedisSemanticStore` does through redis-py, which sends each command under
    ``asyncio.wait_for``; the test decides when the first send completes."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = asyncio.Event()
        self.sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.swallowed = 0

    async def changes(self, cursor: str, *, wait_s: float) -> Changes:
        self.sending.set()
        await asyncio.wait_for(self.sent, wait_s + 1.0)
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            self.swallowed += 1  # cancelled, yet wait_for returned: the caller goes on as if nothing happened
        return await super().changes(cursor, wait_s=wait_s)


async def test_closing_stops_a_follower_whose_cancellation_was_swallowed(encoder: Encoder) -> None:
    store = SendingStore()
    sem = SemanticCache(store, encoder=encoder, poll_s=0.05)
    await sem.start()
    follower = sem._follower
    assert follower is not None
    await store.sending.wait()
    # The send completes and the cancellation arrives before the follower runs again: Python 3.11's wait_for
    # then returns the result and drops the cancellation (CPython gh-86296).
    store.sent.set_result(None)
    async with asyncio.timeout(10):
        await sem.aclose()
    assert follower.done()
    if sys.version_info < (3, 12):
        assert store.swallowed >= 1
