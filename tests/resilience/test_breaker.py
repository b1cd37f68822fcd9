"""Circuit breaker transitions, on a fake clock, over the real memory store."""

from __future__ import annotations

import pytest

from switchyard.config import BreakerPolicy
from switchyard.resilience.breaker import Breaker
from switchyard.state import MemoryStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> Breaker:
    return Breaker(MemoryStore(), BreakerPolicy(failures=3, window_s=60, cooldown_s=30), clock=clock)


async def test_opens_after_consecutive_failures_and_probes_after_cooldown(breaker: Breaker, clock: Clock) -> None:
    for _ in range(2):
        assert await breaker.failure("a", "boom") == "closed"
    assert await breaker.admit("a") == "closed"
    assert await breaker.failure("a", "boom") == "open"
    assert await breaker.admit("a") == "open"
    assert (await breaker.snapshot("a")).last_error == "boom"
    clock.now += 29.9
    assert await breaker.admit("a") == "open"
    clock.now += 0.2
    # Half-open: exactly one probe is let through; everyone else keeps skipping the deployment.
    assert await breaker.admit("a") == "probe"
    assert await breaker.admit("a") == "open"
    assert await breaker.success("a") == "closed"
    assert await breaker.admit("a") == "closed"


async def test_failed_probe_reopens_for_a_full_cooldown(breaker: Breaker, clock: Clock) -> None:
    await breaker.failure("a", "down", force_open=True)
    clock.now += 31
    assert await breaker.admit("a") == "probe"
    assert await breaker.failure("a", "still down") == "open"
    clock.now += 29
    assert await breaker.admit("a") == "open"
    clock.now += 2
    assert await breaker.admit("a") == "probe"


async def test_a_success_resets_the_consecutive_count(breaker: Breaker) -> None:
    await breaker.failure("a", "x")
    await breaker.failure("a", "x")
    await breaker.success("a")
    await breaker.failure("a", "x")
    assert await breaker.failure("a", "x") == "closed"


async def test_error_rate_over_the_window_opens(clock: Clock) -> None:
    policy = BreakerPolicy(failures=100, error_rate=0.5, min_requests=10, window_s=60)
    breaker = Breaker(MemoryStore(), policy, clock=clock)
    states = []
    for _ in range(5):
        await breaker.success("a")
        states.append(await breaker.failure("a", "flaky"))
    # Never two failures in a row, but 5 of 10 calls failed: 50 % once the minimum number of calls is reached.
    assert states == ["closed"] * 4 + ["open"]


async def test_error_rate_window_rolls_over(clock: Clock) -> None:
    policy = BreakerPolicy(failures=100, error_rate=0.5, min_requests=4, window_s=60)
    breaker = Breaker(MemoryStore(), policy, clock=clock)
    await breaker.failure("a", "x")
    await breaker.success("a")
    clock.now += 61
    # The old window's failure is forgotten: one failure in three calls is under 50 %.
    await breaker.success("a")
    await breaker.success("a")
    await breaker.failure("a", "x")
    assert (await breaker.snapshot("a")).state == "closed"


async def test_abandoned_probe_frees_the_slot(breaker: Breaker, clock: Clock) -> None:
    await breaker.failure("a", "down", force_open=True)
    clock.now += 31
    assert await breaker.admit("a") == "probe"
    await breaker.release("a")
    assert await breaker.admit("a") == "probe"
    clock.now += 61  # probe_timeout_s: a probe that never reported back loses its lease
    assert await breaker.admit("a") == "probe"


async def test_breakers_are_per_deployment(breaker: Breaker) -> None:
    await breaker.failure("a", "x", force_open=True)
    assert await breaker.admit("a") == "open"
    assert await breaker.admit("b") == "closed"
    assert (await breaker.snapshot("b")).state == "closed"
