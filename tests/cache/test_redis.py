"""The Redis backend against the real Redis at 127.0.0.1:6379: shared by replicas, one round trip per lookup,
TTL, namespace bumps across replicas, and an unreachable Redis as a miss."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from tests.conftest import sim_config

from switchyard import ChatRequest, Gateway, Message, parse_config
from switchyard.cache import CacheControl
from switchyard.cache.backend import Address
from switchyard.cache.redis import RedisBackend
from switchyard.simulator import Simulator

URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A namespace of Redis keys of this test's own, deleted afterwards."""
    name = f"test-cache-{uuid.uuid4().hex[:10]}"
    client = aioredis.Redis.from_url(URL)
    try:
        await client.ping()
    except OSError:
        pytest.skip("Redis is not running at 127.0.0.1:6379")
    yield name
    found = [k async for k in client.scan_iter(match=f"{name}:*")]
    if found:
        await client.delete(*found)
    await client.aclose()


@contextlib.asynccontextmanager
async def replica(sim: Simulator, namespace: str, **cache: Any) -> AsyncIterator[Gateway]:
    settings = {"enabled": True, "backend": "redis", "url": URL, "namespace": namespace, **cache}
    async with Gateway(parse_config(sim_config(sim.base_url, cache=settings))) as gateway:
        yield gateway


def ask(text: str = "What is a switchyard?", **fields: Any) -> ChatRequest:
    return ChatRequest(model="gpt", messages=[Message.user(text)], **fields)


async def test_two_replicas_share_entries_and_namespace_versions(sim: Simulator, prefix: str) -> None:
    async with replica(sim, prefix) as one, replica(sim, prefix) as two:
        assert one.cache is not None
        first = await one.chat(ask())
        await one.cache.flush()
        streamed = await one.stream(ask("stream it", stream=True))
        chunks = [c async for c in streamed]
        await one.cache.flush()
        calls = sum(sim.requests.values())
        shared = await two.chat(ask())
        replayed = await two.stream(ask("stream it", stream=True))
        replay_chunks = [c async for c in replayed]
        assert sum(sim.requests.values()) == calls  # the second replica called no provider
        await one.cache.invalidate("open")  # a bump on one replica retires the entry for both
        after_bump = await two.chat(ask())
    assert shared.meta is not None
    assert after_bump.meta is not None
    assert (shared.meta.cache, shared.text, shared.id) == ("hit", first.text, first.id)
    assert (replayed.meta.cache, replay_chunks) == ("hit", chunks)
    assert after_bump.meta.cache == "miss"


async def test_entries_expire_by_redis_ttl(sim: Simulator, prefix: str) -> None:
    async with replica(sim, prefix) as gateway:
        assert gateway.cache is not None
        await gateway.chat(ask(), cache=CacheControl(ttl_s=0.5))
        await gateway.cache.flush()
        fresh = await gateway.chat(ask())
        await asyncio.sleep(0.6)
        expired = await gateway.chat(ask())
    assert [r.meta.cache if r.meta else None for r in (fresh, expired)] == ["hit", "miss"]


async def test_stores_travel_with_the_next_lookup(prefix: str) -> None:
    client = aioredis.Redis.from_url(URL)
    backend = RedisBackend(URL, client=client, write_delay_s=60)  # no timer: only a lookup can carry the write
    stored = Address(f"{prefix}:{{sy:t}}:cache:e:a", (f"{prefix}:{{sy:t}}:cache:v",))
    other = Address(f"{prefix}:{{sy:t}}:cache:e:b", stored.versions)
    await backend.put_many([(stored.entry, b"answer", 60)])
    assert await client.exists(stored.entry) == 0  # queued
    assert await backend.fetch(other) == (None, (0, 0))
    assert await client.get(stored.entry) == b"answer"
    await backend.aclose()


async def test_without_lookups_stores_are_written_within_the_delay(prefix: str) -> None:
    client = aioredis.Redis.from_url(URL)
    backend = RedisBackend(URL, client=client, write_delay_s=0.01)
    first, second = f"{prefix}:{{sy:t}}:cache:e:1", f"{prefix}:{{sy:t}}:cache:e:2"
    await backend.put_many([(first, b"one", 60)])
    for _ in range(200):
        if await client.exists(first):
            break
        await asyncio.sleep(0.005)
    assert await client.get(first) == b"one"
    await backend.put_many([(second, b"two", 60)])
    await asyncio.sleep(0.012)  # the delayed write is under way, or done
    await asyncio.wait_for(backend.flush(), timeout=2)
    assert await client.get(second) == b"two"
    await backend.aclose()


async def test_entries_have_a_ttl_and_namespaces_versions(prefix: str) -> None:
    client = aioredis.Redis.from_url(URL)
    backend = RedisBackend(URL, client=client)
    where = Address(f"{prefix}:{{sy:t}}:cache:e:x", (f"{prefix}:{{sy:t}}:cache:v",))
    await backend.put_many([(where.entry, b"v" * 1000, 60)])
    await backend.flush()
    assert 0 < await client.pttl(where.entry) <= 60_000
    assert await backend.fetch(where) == (b"v" * 1000, (0, 0))
    assert await backend.bump(where.versions[0]) == 1
    assert (await backend.fetch(where))[1] == (1, 0)
    assert await backend.delete(where.entry)
    await backend.aclose()


class CountingRedis(aioredis.Redis):
    """Every command redis-py sends on its own connection is one round trip."""

    sent: list[tuple[Any, ...]]

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.sent.append(args)
        return await super().execute_command(*args, **options)


async def test_a_lookup_is_one_round_trip(sim: Simulator, prefix: str) -> None:
    narrowed = CacheControl(namespace="user-1")
    async with replica(sim, prefix) as gateway:
        cache = gateway.cache
        assert cache is not None
        client = CountingRedis.from_url(URL)
        client.sent = []
        await cache.backend.aclose()
        cache.backend = RedisBackend(URL, client=client)
        await gateway.chat(ask(), cache=narrowed)
        await cache.flush()
        client.sent.clear()
        hit = await gateway.chat(ask(), cache=narrowed)
    assert hit.meta is not None
    assert hit.meta.cache == "hit"
    assert [c[0] for c in client.sent] == ["MGET"]
    assert len(client.sent[0]) == 4  # the base and the narrowed namespace's versions, and the entry


async def test_an_unreachable_redis_is_a_miss_not_an_error(sim: Simulator) -> None:
    async with replica(sim, "unused", url="redis://127.0.0.1:9/0") as gateway:
        assert gateway.cache is not None
        answers = [await gateway.chat(ask()) for _ in range(2)]
        await gateway.cache.flush()
    assert [r.meta.cache if r.meta else None for r in answers] == ["miss", "miss"]
    assert all(r.text for r in answers)
    assert gateway.cache.metrics.errors >= 1
