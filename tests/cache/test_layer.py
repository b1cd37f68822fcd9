"""The cache in the pipeline: a real gateway against the simulator, with the in-memory backend."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import sim_config

from switchyard import ChatRequest, Gateway, Message, parse_config
from switchyard.cache import CacheControl
from switchyard.cache.backend import MemoryBackend
from switchyard.errors import UpstreamError
from switchyard.governance.ledger import Ledger, open_database
from switchyard.governance.principal import Principal
from switchyard.governance.records import VirtualKey
from switchyard.simulator import Faults, Simulator


@contextlib.asynccontextmanager
async def cached(sim: Simulator, ledger: Ledger | None = None, **extra: Any) -> AsyncIterator[Gateway]:
    cache = {"enabled": True, **extra.pop("cache", {})}
    async with Gateway(parse_config(sim_config(sim.base_url, cache=cache, **extra)), ledger=ledger) as gateway:
        yield gateway


def ask(text: str = "What is a switchyard?", **fields: Any) -> ChatRequest:
    return ChatRequest(model="gpt", messages=[Message.user(text)], **fields)


def caller(key_id: str) -> Principal:
    return Principal.of(VirtualKey(id=key_id, name=key_id, key_hash=key_id, display="sk-…", created_at=time.time()))


def upstream_calls(sim: Simulator) -> int:
    return sum(sim.requests.values())


async def test_a_repeated_request_is_answered_without_an_upstream_call(sim: Simulator) -> None:
    async with cached(sim) as gateway:
        first = await gateway.chat(ask())
        assert gateway.cache is not None
        await gateway.cache.flush()
        calls = upstream_calls(sim)
        again = await gateway.chat(ask(user="someone-else"))
    assert upstream_calls(sim) == calls
    assert first.meta is not None
    assert again.meta is not None
    assert (first.meta.cache, again.meta.cache) == ("miss", "hit")
    assert (again.text, again.id, again.usage) == (first.text, first.id, first.usage)
    assert (again.meta.deployment, again.meta.attempts, again.meta.cost_usd) == ("gpt", [], 0.0)
    assert again.meta.request_id != first.meta.request_id


async def test_tenants_never_see_each_others_answers(sim: Simulator) -> None:
    alice, bob = caller("k-alice"), caller("k-bob")
    async with cached(sim) as gateway:
        assert gateway.cache is not None
        await gateway.chat(ask(), principal=alice)
        await gateway.cache.flush()
        outcomes = [
            (await gateway.chat(ask(), principal=bob)).meta,
            # Naming Alice's namespace only narrows Bob's own.
            (await gateway.chat(ask(), principal=bob, cache=CacheControl(namespace="key:k-alice"))).meta,
            (await gateway.chat(ask(), principal=alice)).meta,
            # A narrowed namespace is separate from its base, in both directions.
            (await gateway.chat(ask(), principal=alice, cache=CacheControl(namespace="user-1"))).meta,
        ]
    assert [m.cache if m else None for m in outcomes] == ["miss", "miss", "hit", "miss"]


async def test_a_team_namespace_is_shared_when_configured(sim: Simulator) -> None:
    def member(key_id: str) -> Principal:
        key = VirtualKey(id=key_id, name=key_id, key_hash=key_id, display="sk-…", created_at=0, team="search")
        return Principal.of(key)

    async with cached(sim, cache={"namespace_by": "team"}) as gateway:
        assert gateway.cache is not None
        await gateway.chat(ask(), principal=member("k1"))
        await gateway.cache.flush()
        shared = await gateway.chat(ask(), principal=member("k2"))
    assert shared.meta is not None
    assert shared.meta.cache == "hit"


async def test_no_cache_refreshes_and_no_store_stores_nothing(sim: Simulator) -> None:
    async with cached(sim) as gateway:
        cache = gateway.cache
        assert cache is not None
        unstored = await gateway.chat(ask("one"), cache=CacheControl(no_store=True))
        await cache.flush()
        after_no_store = await gateway.chat(ask("one"))
        await cache.flush()
        refreshed = await gateway.chat(ask("one"), cache=CacheControl(no_cache=True))
        await cache.flush()
        served = await gateway.chat(ask("one"))
    metas = [r.meta for r in (unstored, after_no_store, refreshed, served)]
    assert [m.cache if m else None for m in metas] == ["miss", "miss", "skip", "hit"]
    assert served.id == refreshed.id  # the refresh replaced the entry
    assert cache.metrics.skips["no-cache"] == 1


async def test_ttl_and_max_age(sim: Simulator) -> None:
    routes = {"short": {"targets": ["gpt"], "cache": {"ttl_s": 0.5}}}
    async with cached(sim, routes=routes) as gateway:
        assert gateway.cache is not None
        short = ChatRequest(model="short", messages=[Message.user("brief")])
        await gateway.chat(short)
        await gateway.chat(ask("zero ttl"), cache=CacheControl(ttl_s=0))
        await gateway.chat(ask("aged"))
        await gateway.cache.flush()
        fresh = await gateway.chat(short)
        await asyncio.sleep(0.6)
        expired = await gateway.chat(short)
        not_stored = await gateway.chat(ask("zero ttl"))
        too_old = await gateway.chat(ask("aged"), cache=CacheControl(max_age_s=0))
        young_enough = await gateway.chat(ask("aged"), cache=CacheControl(max_age_s=60))
    outcomes = [r.meta.cache if r.meta else None for r in (fresh, expired, not_stored, too_old, young_enough)]
    assert outcomes == ["hit", "miss", "miss", "miss", "hit"]


async def test_skip_rules_leave_requests_alone(sim: Simulator) -> None:
    routes = {"uncached": {"targets": ["gpt"], "cache": {"enabled": False}}}
    async with cached(sim, routes=routes) as gateway:
        assert gateway.cache is not None
        for _ in range(2):
            hot = await gateway.chat(ask(temperature=1.5))
            personal = await gateway.chat(ask("my diagnosis"), cache=CacheControl(personal=True))
            off = await gateway.chat(ChatRequest(model="uncached", messages=[Message.user("hi")]))
            await gateway.cache.flush()
        assert [r.meta.cache if r.meta else None for r in (hot, personal, off)] == ["skip"] * 3
        assert gateway.cache.metrics.skips == {"temperature": 2, "personal": 2, "route": 2}
        assert gateway.cache.metrics.stored == 0


async def test_a_hit_releases_its_reservation_and_is_in_the_ledger(sim: Simulator, tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'usage.db'}")
    budgets = [{"scope": "global", "limit_usd": 10.0, "window": "daily"}]
    async with cached(sim, Ledger(db, flush_interval_s=0.01), governance={"budgets": budgets}) as gateway:
        assert gateway.cache is not None
        miss = await gateway.chat(ask(max_tokens=50))
        await gateway.cache.flush()
        await asyncio.sleep(0.05)  # settlement runs in the background
        request = ask(max_tokens=50)
        status_before = await gateway.governor.budget_status(Principal(), gateway.router.plan(request))
        hit = await gateway.chat(request)
        await asyncio.sleep(0.05)
        status_after = await gateway.governor.budget_status(Principal(), gateway.router.plan(request))
    assert miss.meta is not None
    assert hit.meta is not None
    assert hit.meta.cache == "hit"
    cost = miss.meta.cost_usd
    assert cost
    # Admission reserved the estimate for the hit too; it was released: nothing pending, nothing more spent.
    assert hit.meta.estimated_cost_usd
    assert status_before[0]["spent_usd"] == status_after[0]["spent_usd"] == pytest.approx(cost)
    assert status_after[0]["pending_usd"] == 0
    async with open_database(f"sqlite:///{tmp_path / 'usage.db'}") as reader:
        rows = {r.request_id: r for r in await reader.fetch_usage()}
    miss_row, hit_row = rows[miss.meta.request_id or ""], rows[hit.meta.request_id or ""]
    assert (miss_row.cache, miss_row.cost_usd, miss_row.saved_usd) == ("miss", pytest.approx(cost), None)
    assert (hit_row.cache, hit_row.cost_usd, hit_row.saved_usd) == ("hit", 0.0, pytest.approx(cost))
    assert (hit_row.deployment, hit_row.attempts, hit_row.input_tokens) == ("gpt", 0, 0)
    assert gateway.cache.metrics.usd_saved == {"gpt": pytest.approx(cost)}


async def test_a_stream_is_stored_only_when_it_ended_normally(sim: Simulator) -> None:
    async with cached(sim) as gateway:
        assert gateway.cache is not None
        left_early = await gateway.stream(ask("a long story", stream=True))
        await left_early.__anext__()
        await left_early.aclose()
        sim.set_faults("openai:gpt-4o-mini", Faults(cut_stream_rate=1.0, cut_after_chunks=1))
        cut = await gateway.stream(ask("a cut story", stream=True))
        with pytest.raises(UpstreamError):
            async for _ in cut:
                pass
        sim.clear_faults()
        await gateway.cache.flush()
        assert gateway.cache.metrics.stored == 0
        whole = await gateway.stream(ask("a long story", stream=True))
        chunks = [c async for c in whole]
        await gateway.cache.flush()
        replay = await gateway.stream(ask("a long story", stream=True))
        replayed = [c async for c in replay]
        plain = await gateway.chat(ask("a long story"))
    assert (whole.meta.cache, replay.meta.cache) == ("miss", "hit")
    assert replayed == chunks
    assert plain.meta is not None
    assert plain.meta.cache == "hit"
    assert plain.text == whole.text


async def test_a_namespace_bump_retires_its_entries(sim: Simulator) -> None:
    alice = caller("k-alice")
    narrow = CacheControl(namespace="user-1")
    async with cached(sim) as gateway:
        cache = gateway.cache
        assert cache is not None
        await gateway.chat(ask(), principal=alice)
        await gateway.chat(ask(), principal=alice, cache=narrow)
        await gateway.chat(ask(), principal=caller("k-bob"))
        await cache.flush()
        assert await cache.invalidate("key:k-alice/user-1") == 1
        sub_bumped = [(await gateway.chat(ask(), principal=alice, cache=c)).meta for c in (narrow, None)]
        await cache.flush()
        assert await cache.invalidate("key:k-alice") == 1
        base_bumped = [(await gateway.chat(ask(), principal=alice, cache=c)).meta for c in (narrow, None)]
        bob = (await gateway.chat(ask(), principal=caller("k-bob"))).meta
    assert [m.cache if m else None for m in sub_bumped] == ["miss", "hit"]
    assert [m.cache if m else None for m in base_bumped] == ["miss", "miss"]  # the base retires its narrowings too
    assert bob is not None
    assert bob.cache == "hit"


async def test_negative_feedback_removes_the_entry(sim: Simulator) -> None:
    alice = caller("k-alice")
    async with cached(sim) as gateway:
        cache = gateway.cache
        assert cache is not None
        first = await gateway.chat(ask(), principal=alice)
        await cache.flush()
        hit = await gateway.chat(ask(), principal=alice)
        assert hit.meta is not None
        assert await cache.feedback(hit.id, 1.0, alice) is False  # a good score keeps it
        assert await cache.feedback(hit.id, 0.0, caller("k-bob")) is None  # not Bob's to judge
        assert await cache.feedback("chatcmpl-unknown", 0.0, alice) is None
        assert await cache.feedback(hit.meta.request_id or "", 0.0, alice) is True
        after = await gateway.chat(ask(), principal=alice)
    assert first.meta is not None
    assert after.meta is not None
    assert after.meta.cache == "miss"
    assert cache.metrics.evicted_by_feedback == 1


class CountingBackend(MemoryBackend):
    """The memory backend, counting its write calls."""

    def __init__(self) -> None:
        super().__init__(max_bytes=1 << 20)
        self.writes: list[int] = []

    async def put_many(self, items: list[tuple[str, bytes, float]]) -> None:
        self.writes.append(len(items))
        await super().put_many(items)


async def test_answers_finishing_together_are_written_together(sim: Simulator) -> None:
    async with cached(sim) as gateway:
        cache = gateway.cache
        assert cache is not None
        backend = cache.backend = CountingBackend()
        requests = [ask(f"question {i}") for i in range(8)]
        probes = [await cache.lookup(r, Principal(), gateway.router.plan(r)) for r in requests]
        answer = await gateway.chat(ask("any answer"))
        # Answers that complete within one turn of the event loop, as under concurrent load.
        for i, probe in enumerate(probes):
            cache.store(probe, answer, deployment="gpt", provider="openai", cost_usd=None, request_id=f"r{i}")
        await cache.flush()
        hits = [await cache.lookup(r, Principal(), gateway.router.plan(r)) for r in requests]
    assert [p.outcome for p in probes] == ["miss"] * 8
    assert [p.outcome for p in hits] == ["hit"] * 8
    assert backend.writes == [9]  # "any answer" and the eight stored in the same turn: one round trip
