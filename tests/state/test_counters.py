"""Budgets and rate limits: one suite, run against the memory store and against real Redis, so the Lua
scripts and the reference implementation cannot drift apart."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from switchyard.errors import StateUnavailableError
from switchyard.state import MemoryStore, StateStore
from switchyard.state.ops import Admit, BudgetCheck, RateCheck, Settle, Tier
from switchyard.state.redis import RedisStore

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[StateStore]:
    if request.param == "memory":
        memory = MemoryStore()
        yield memory
        await memory.aclose()
        return
    redis_store = RedisStore(REDIS_URL, namespace=f"test-{uuid.uuid4().hex[:8]}")
    if not await redis_store.ping():
        await redis_store.aclose()
        pytest.fail("Redis at 127.0.0.1:6379 is required (.ci/run starts it)")
    yield redis_store
    await redis_store.flush_namespace()
    await redis_store.aclose()


def rpm(store: StateStore, name: str, limit: int, *, window_s: float = 60.0, group: int = 0) -> RateCheck:
    return RateCheck(key=store.key("rate", name), name=name, limit=limit, amount=1, window_s=window_s, group=group)


def budget(store: StateStore, name: str, limit: int, **kw: object) -> BudgetCheck:
    return BudgetCheck(key=store.key("budget", name), name=name, limit=limit, **kw)  # type: ignore[arg-type]


def member() -> str:
    return uuid.uuid4().hex


async def test_rate_limit_admits_exactly_the_limit(store: StateStore) -> None:
    check = rpm(store, "k", 5)
    results = [await store.admit(Admit(member=member(), limits=[check])) for _ in range(8)]
    assert [r.ok for r in results] == [True] * 5 + [False] * 3
    assert [r.rate_used[0] for r in results[:5]] == [1, 2, 3, 4, 5]
    rejected = results[5]
    assert rejected.kind == "rate"
    assert rejected.failed == 0
    assert 59.0 < rejected.retry_after <= 60.0


async def test_sliding_window_frees_units_as_they_age(store: StateStore) -> None:
    check = rpm(store, "short", 2, window_s=0.4)
    assert (await store.admit(Admit(member=member(), limits=[check]))).ok
    assert (await store.admit(Admit(member=member(), limits=[check]))).ok
    assert not (await store.admit(Admit(member=member(), limits=[check]))).ok
    await asyncio.sleep(0.45)
    assert (await store.admit(Admit(member=member(), limits=[check]))).ok


async def test_token_limit_is_corrected_at_settle(store: StateStore) -> None:
    tpm = RateCheck(key=store.key("rate", "tpm"), name="tpm", limit=1000, amount=600)
    first = member()
    assert (await store.admit(Admit(member=first, limits=[tpm]))).ok
    assert not (await store.admit(Admit(member=member(), limits=[tpm]))).ok
    # The first request used far fewer tokens than estimated: the window gets them back.
    await store.settle(Settle(member=first, limits=[RateCheck(key=tpm.key, name="tpm", limit=1000, amount=100)]))
    assert (await store.admit(Admit(member=member(), limits=[tpm]))).rate_used == [700]


async def test_request_larger_than_the_limit_is_rejected(store: StateStore) -> None:
    tpm = RateCheck(key=store.key("rate", "big"), name="tpm", limit=100, amount=101)
    result = await store.admit(Admit(member=member(), limits=[tpm]))
    assert not result.ok
    assert result.retry_after == 60.0


async def test_alternative_groups_take_the_first_with_headroom(store: StateStore) -> None:
    key_limit = rpm(store, "key", 100)
    primary, secondary = rpm(store, "primary", 1, group=1), rpm(store, "secondary", 5, group=2)
    op = lambda: Admit(member=member(), limits=[key_limit, primary, secondary])  # noqa: E731
    first, second = await store.admit(op()), await store.admit(op())
    assert (first.group, second.group) == (1, 2)
    assert second.rate_used == [2, -1, 1]


async def test_budget_reserve_then_reconcile(store: StateStore) -> None:
    check = budget(store, "team", 1000)
    a, b = member(), member()
    assert (await store.admit(Admit(member=a, budgets=[check], amount=600))).ok
    rejected = await store.admit(Admit(member=b, budgets=[check], amount=600))
    assert not rejected.ok
    assert rejected.kind == "budget"
    assert rejected.failed == 0
    assert await store.settle(Settle(member=a, budgets=[check], actual=150)) == [150]
    admitted = await store.admit(Admit(member=b, budgets=[check], amount=600))
    assert admitted.ok
    assert admitted.spent == [150]
    assert admitted.pending == [600]


async def test_concurrent_admissions_never_overshoot(store: StateStore) -> None:
    check = budget(store, "race", 10_000)
    ops = [Admit(member=member(), budgets=[check], amount=700) for _ in range(40)]
    results = await asyncio.gather(*(store.admit(op) for op in ops))
    assert sum(r.ok for r in results) == 10_000 // 700


async def test_reserved_share_is_for_critical_traffic_only(store: StateStore) -> None:
    check = budget(store, "shared", 1000, reserved=100)
    assert (await store.admit(Admit(member=member(), budgets=[check], amount=900))).ok
    assert not (await store.admit(Admit(member=member(), budgets=[check], amount=50))).ok
    assert (await store.admit(Admit(member=member(), budgets=[check], amount=50, critical=True))).ok


async def test_soft_budget_counts_but_never_rejects(store: StateStore) -> None:
    check = budget(store, "soft", 100, hard=False)
    result = await store.admit(Admit(member=member(), budgets=[check], amount=500))
    assert result.ok
    assert await store.settle(Settle(member=member(), budgets=[check], actual=500)) == [500]


async def test_tiers_follow_the_remaining_share(store: StateStore) -> None:
    check = budget(store, "tiered", 1000)
    tiers = [Tier(min_remaining=0.8, amount=100), Tier(min_remaining=0.2, amount=10), Tier(min_remaining=0.0, amount=1)]
    seen = []
    for _ in range(12):
        m = member()
        result = await store.admit(Admit(member=m, budgets=[check], tiers=tiers))
        if not result.ok:
            seen.append(result.kind)
            break
        seen.append(result.tier)
        await store.settle(Settle(member=m, budgets=[check], actual=result.reserved))
    # 100+100 → 20 % spent; quality tier while > 80 % left, balanced after.
    assert seen[:3] == [0, 0, 0]
    assert seen[3] == 1
    critical = await store.admit(Admit(member=member(), budgets=[check], tiers=tiers, critical=True))
    assert critical.ok
    assert critical.tier == 0


async def test_exhausted_budget_rejects_tiered_requests(store: StateStore) -> None:
    check = budget(store, "gone", 100, expires_at=time.time() + 3600)
    m = member()
    assert (await store.admit(Admit(member=m, budgets=[check], amount=100))).ok
    await store.settle(Settle(member=m, budgets=[check], actual=100))
    result = await store.admit(Admit(member=member(), budgets=[check], tiers=[Tier(min_remaining=0.0, amount=1)]))
    assert not result.ok
    assert result.kind == "exhausted"
    assert 3590 < result.retry_after <= 3600


async def test_unsettled_reservations_expire(store: StateStore) -> None:
    check = budget(store, "lease", 100)
    assert (await store.admit(Admit(member=member(), budgets=[check], amount=100, lease_s=0.3))).ok
    assert not (await store.admit(Admit(member=member(), budgets=[check], amount=100))).ok
    await asyncio.sleep(0.35)
    assert (await store.admit(Admit(member=member(), budgets=[check], amount=100))).ok


async def test_rolling_budget_forgets_old_spend(store: StateStore) -> None:
    check = budget(store, "rolling", 100, rolling_s=0.6)
    m = member()
    assert (await store.admit(Admit(member=m, budgets=[check], amount=100))).ok
    await store.settle(Settle(member=m, budgets=[check], actual=100))
    assert not (await store.admit(Admit(member=member(), budgets=[check], amount=50))).ok
    await asyncio.sleep(0.7)
    assert (await store.admit(Admit(member=member(), budgets=[check], amount=50))).ok


async def test_a_rejection_records_nothing(store: StateStore) -> None:
    check_budget, check_rate = budget(store, "atomic", 100), rpm(store, "atomic", 1)
    assert (await store.admit(Admit(member=member(), limits=[check_rate]))).ok
    # The rate limit rejects: the budget must not keep a reservation for a request that never ran.
    assert not (await store.admit(Admit(member=member(), budgets=[check_budget], limits=[check_rate], amount=60))).ok
    assert (await store.admit(Admit(member=member(), budgets=[check_budget], amount=100))).ok


async def test_unreachable_redis_fails_fast_and_recovers() -> None:
    store = RedisStore("redis://127.0.0.1:1/0", timeout_s=0.2, retry_s=0.2)
    check = RateCheck(key=store.key("rate", "x"), name="x", limit=1, amount=1)
    with pytest.raises(StateUnavailableError, match="unreachable") as caught:
        await store.admit(Admit(member=member(), limits=[check]))
    assert "127.0.0.1:1" in str(caught.value)
    started = time.perf_counter()
    with pytest.raises(StateUnavailableError):
        await store.admit(Admit(member=member(), limits=[check]))
    assert time.perf_counter() - started < 0.05
    assert store.errors == 1
    await store.aclose()


def test_redis_url_credentials_never_shown() -> None:
    store = RedisStore("redis://user:hunter2@127.0.0.1:6379/0")
    assert "hunter2" not in store.url
    assert store.url == "redis://127.0.0.1:6379/0"


async def test_release_frees_a_reservation_without_charging(store: StateStore) -> None:
    primary, actual = budget(store, "provider-a", 100), budget(store, "provider-b", 100)
    m = member()
    assert (await store.admit(Admit(member=m, budgets=[primary], amount=100))).ok
    assert await store.settle(Settle(member=m, budgets=[actual], actual=30, release=[primary])) == [30]
    again = await store.admit(Admit(member=member(), budgets=[primary, actual], amount=70))
    assert again.ok
    assert again.spent == [0, 30]


async def test_free_group_takes_over_when_every_limited_group_is_full(store: StateStore) -> None:
    limited = rpm(store, "limited", 1, group=1)
    first = await store.admit(Admit(member=member(), limits=[limited], free_group=2))
    second = await store.admit(Admit(member=member(), limits=[limited], free_group=2))
    assert (first.group, second.group) == (1, 2)
    assert second.rate_used == [-1]


async def test_a_tier_that_does_not_fit_degrades_to_a_cheaper_one(store: StateStore) -> None:
    check = budget(store, "degrade", 100)
    tiers = [Tier(min_remaining=0.5, amount=150), Tier(min_remaining=0.0, amount=10)]
    result = await store.admit(Admit(member=member(), budgets=[check], tiers=tiers))
    assert result.ok
    assert (result.tier, result.reserved) == (1, 10)
