"""Breakers shared through real Redis: two Breaker instances play two replicas."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from switchyard.config import BreakerPolicy
from switchyard.resilience.breaker import Breaker, BreakerRecord
from switchyard.state.redis import RedisStore

POLICY = BreakerPolicy(failures=2, window_s=60, cooldown_s=0.2, min_requests=1000)


@pytest.fixture
async def stores() -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    namespace = f"test-breaker-{uuid.uuid4().hex[:8]}"
    a, b = RedisStore(namespace=namespace), RedisStore(namespace=namespace)
    if not await a.ping():
        pytest.fail("Redis at 127.0.0.1:6379 is required (.ci/run starts it)")
    yield a, b
    await a.flush_namespace()
    await a.aclose()
    await b.aclose()


async def test_one_replicas_failures_open_the_breaker_for_all(stores: tuple[RedisStore, RedisStore]) -> None:
    one, two = Breaker(stores[0], POLICY, sync_s=0.05), Breaker(stores[1], POLICY, sync_s=0.05)
    assert await two.admit("gpt") == "closed"
    await one.failure("gpt", "UpstreamUnavailableError: 503")
    await one.failure("gpt", "UpstreamUnavailableError: 503")
    assert await one.admit("gpt") == "open"
    await asyncio.sleep(0.06)  # the other replica's mirror goes stale and it reads the shared record
    assert await two.admit("gpt") == "open"
    await asyncio.sleep(0.2)
    # After the cooldown exactly one replica gets the probe.
    verdicts = sorted([await one.admit("gpt"), await two.admit("gpt")])
    assert verdicts == ["open", "probe"]


async def test_successes_are_counted_locally_and_flushed(stores: tuple[RedisStore, RedisStore]) -> None:
    breaker = Breaker(stores[0], POLICY, sync_s=60)
    for _ in range(5):
        assert await breaker.success("gpt") == "closed"
    # Nothing written yet: the hot path made no round trip.
    assert await stores[0].get(stores[0].key("breaker", "gpt"), BreakerRecord) is None
    await breaker.flush()
    record = await breaker.snapshot("gpt")
    assert record.window_ok == 5


async def test_unreachable_store_leaves_each_replica_to_its_own_view() -> None:
    store = RedisStore("redis://127.0.0.1:1/0", timeout_s=0.1, retry_s=0.1)
    breaker = Breaker(store, POLICY, sync_s=0.0)
    assert await breaker.admit("gpt") == "closed"
    await breaker.failure("gpt", "UpstreamUnavailableError: 503")
    await breaker.failure("gpt", "UpstreamUnavailableError: 503")
    assert await breaker.admit("gpt") == "open"
    await store.aclose()
