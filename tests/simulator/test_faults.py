"""The simulator's fault injector (scopes, determinism, latency distributions, outages, rates) and its control
API over HTTP."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from switchyard.simulator import Faults, Latency, Outage, Simulator
from switchyard.simulator import faults as faults_module
from switchyard.simulator.faults import FaultInjector

# -- scopes -------------------------------------------------------------------------------------------------


def test_no_faults_is_ok_without_delay() -> None:
    decision = FaultInjector(seed=1).decide("openai", "gpt-4o")
    assert (decision.action, decision.delay_s, decision.status) == ("ok", 0.0, 0)


def test_most_specific_scope_wins() -> None:
    injector = FaultInjector(
        {"*": Faults(error_rate=1.0), "openai": Faults(rate_limit_rate=1.0), "openai:gpt-calm": Faults()}, seed=1
    )
    assert injector.decide("openai", "gpt-calm").action == "ok"
    assert injector.decide("openai", "gpt-other").action == "rate_limit"
    assert injector.decide("anthropic", "claude").action == "error"
    # A model scope of another provider does not apply.
    assert injector.decide("azure", "gpt-calm").action == "error"


def test_clearing_a_scope_falls_back_to_the_next() -> None:
    injector = FaultInjector(seed=1)
    injector.set("*", Faults(error_rate=1.0))
    injector.set("openai", Faults(hang_rate=1.0))
    injector.set("openai:m", Faults(garbled_rate=1.0))
    assert injector.decide("openai", "m").action == "garbled"
    injector.clear("openai:m")
    assert injector.decide("openai", "m").action == "hang"
    injector.clear("openai")
    assert injector.decide("openai", "m").action == "error"
    injector.clear("not-set")
    injector.clear()
    assert injector.snapshot() == {}
    assert injector.decide("openai", "m").action == "ok"


def test_forced_action_wins_over_scopes_and_rolls() -> None:
    injector = FaultInjector({"openai": Faults(error_rate=1.0, error_status=502)}, seed=1)
    assert injector.decide("openai", "m", forced="content_filter").action == "content_filter"
    forced_error = injector.decide("openai", "m", forced="error")
    assert (forced_error.action, forced_error.status) == ("error", 502)
    assert FaultInjector(seed=1).decide("gemini", "m", forced="hang").action == "hang"
    # An unknown forced action is ignored rather than invented.
    assert injector.decide("openai", "m", forced="explode").action == "error"
    assert FaultInjector(seed=1).decide("openai", "m", forced="explode").action == "ok"


def test_error_status_is_carried() -> None:
    decision = FaultInjector({"*": Faults(error_rate=1.0, error_status=503)}, seed=1).decide("openai", "m")
    assert (decision.action, decision.status) == ("error", 503)


# -- determinism and rates ----------------------------------------------------------------------------------

MIXED = Faults(
    latency=Latency(dist="uniform", min_ms=1, max_ms=50),
    error_rate=0.10,
    rate_limit_rate=0.20,
    overloaded_rate=0.05,
    hang_rate=0.05,
    garbled_rate=0.10,
    content_filter_rate=0.05,
    cut_stream_rate=0.10,
)


def draws(seed: int | None, n: int = 1000) -> list[tuple[str, float]]:
    injector = FaultInjector({"*": MIXED}, seed=seed)
    return [(d.action, d.delay_s) for d in (injector.decide("openai", "m") for _ in range(n))]


def test_same_seed_same_decisions() -> None:
    assert draws(7, 300) == draws(7, 300)
    assert draws(7, 300) != draws(8, 300)


def test_rates_are_roughly_honoured() -> None:
    counts = Counter(action for action, _ in draws(42))
    expected = {
        "error": 0.10, "rate_limit": 0.20, "overloaded": 0.05, "hang": 0.05, "garbled": 0.10,
        "content_filter": 0.05, "cut": 0.10, "ok": 0.35,
    }
    assert set(counts) == set(expected)
    for action, rate in expected.items():
        # About four standard deviations of a binomial over 1000 draws.
        tolerance = 4 * (1000 * rate * (1 - rate)) ** 0.5
        assert abs(counts[action] - 1000 * rate) <= tolerance, (action, counts[action])


def test_zero_rates_never_fire() -> None:
    injector = FaultInjector({"*": Faults(latency=Latency(ms=1))}, seed=3)
    assert {injector.decide("openai", "m").action for _ in range(500)} == {"ok"}


# -- latency ------------------------------------------------------------------------------------------------


def samples(latency: Latency, n: int = 2000, seed: int = 11) -> list[float]:
    rng = random.Random(seed)
    return [latency.sample(rng) for _ in range(n)]


def test_fixed_latency() -> None:
    assert set(samples(Latency(dist="fixed", ms=250), 50)) == {0.25}
    assert set(samples(Latency(), 10)) == {0.0}


def test_uniform_latency_stays_in_range() -> None:
    values = samples(Latency(dist="uniform", min_ms=100, max_ms=300))
    assert min(values) >= 0.1
    assert max(values) <= 0.3
    assert statistics.median(values) == pytest.approx(0.2, abs=0.01)
    assert min(values) < 0.11
    assert max(values) > 0.29


def test_normal_latency() -> None:
    values = samples(Latency(dist="normal", ms=200, stddev_ms=20))
    assert statistics.median(values) == pytest.approx(0.2, abs=0.003)
    assert statistics.stdev(values) == pytest.approx(0.02, rel=0.1)
    capped = samples(Latency(dist="normal", ms=200, stddev_ms=20, max_ms=210))
    assert max(capped) == 0.21


def test_normal_latency_is_never_negative() -> None:
    values = samples(Latency(dist="normal", ms=0, stddev_ms=100))
    assert min(values) == 0.0
    assert values.count(0.0) == pytest.approx(len(values) / 2, rel=0.15)


def test_lognormal_latency() -> None:
    values = sorted(samples(Latency(dist="lognormal", ms=100, sigma=0.5), n=5000))
    assert min(values) > 0
    assert statistics.median(values) == pytest.approx(0.1, rel=0.05)
    p99 = values[int(len(values) * 0.99)]
    assert p99 / statistics.median(values) == pytest.approx(3.2, rel=0.15)
    capped = samples(Latency(dist="lognormal", ms=100, sigma=0.5, max_ms=150))
    assert max(capped) == 0.15


def test_chunk_delay_samples_its_own_distribution() -> None:
    injector = FaultInjector(seed=1)
    assert injector.chunk_delay(Faults(chunk_delay=Latency(ms=40))) == 0.04
    assert injector.chunk_delay(Faults()) == 0.0


def test_decision_delay_comes_from_latency() -> None:
    injector = FaultInjector({"*": Faults(latency=Latency(dist="uniform", min_ms=10, max_ms=20))}, seed=5)
    delays = [injector.decide("openai", "m").delay_s for _ in range(200)]
    assert all(0.01 <= d <= 0.02 for d in delays)


# -- outages ------------------------------------------------------------------------------------------------


class Clock:
    """Stands in for the faults module's ``time``, so outage windows are checked at exact instants."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(faults_module, "time", fake)
    return fake


def test_outage_window(clock: Clock) -> None:
    injector = FaultInjector(seed=1)
    injector.set("openai", Faults(outages=(Outage(start_s=1.0, duration_s=0.5, status=502),)))
    timeline = {}
    for offset in (0.0, 0.999, 1.0, 1.25, 1.499, 1.5, 10.0):
        clock.now = 1000.0 + offset
        decision = injector.decide("openai", "m")
        timeline[offset] = (decision.action, decision.status)
    assert timeline == {
        0.0: ("ok", 0),
        0.999: ("ok", 0),
        1.0: ("error", 502),
        1.25: ("error", 502),
        1.499: ("error", 502),
        1.5: ("ok", 0),
        10.0: ("ok", 0),
    }


def test_outage_is_timed_from_when_its_scope_was_set(clock: Clock) -> None:
    outage = Faults(outages=(Outage(duration_s=0.2),))
    injector = FaultInjector({"*": outage}, seed=1)
    clock.now += 0.1
    assert injector.decide("openai", "m").status == 503
    clock.now += 0.2
    assert injector.decide("openai", "m").action == "ok"
    injector.set("*", outage)  # set again: the window starts again
    assert injector.decide("openai", "m").status == 503


def test_several_outages(clock: Clock) -> None:
    faults = Faults(outages=(Outage(start_s=0, duration_s=0.1), Outage(start_s=0.3, duration_s=0.1, status=500)))
    injector = FaultInjector({"*": faults}, seed=1)
    actions = []
    for offset in (0.05, 0.2, 0.35, 0.5):
        clock.now = 1000.0 + offset
        d = injector.decide("openai", "m")
        actions.append((d.action, d.status))
    assert actions == [("error", 503), ("ok", 0), ("error", 500), ("ok", 0)]


# -- the control API ----------------------------------------------------------------------------------------


@pytest.fixture
async def http(sim: Simulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sim.base_url) as session:
        yield session


async def chat(http: aiohttp.ClientSession, model: str = "gpt-4o-mini", **headers: str) -> aiohttp.ClientResponse:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    async with http.post("/v1/chat/completions", json=body, headers={"authorization": "Bearer k", **headers}) as r:
        await r.read()
        return r


async def test_control_api_round_trip(http: aiohttp.ClientSession) -> None:
    async with http.get("/_sim/faults") as r:
        assert (r.status, await r.json()) == (200, {})
    set_body = {"scope": "openai", "faults": {"error_rate": 1.0, "error_status": 502, "latency": {"ms": 1}}}
    async with http.post("/_sim/faults", json=set_body) as r:
        assert (r.status, await r.json()) == (200, {"ok": True})
    async with http.get("/_sim/faults") as r:
        snapshot = await r.json()
    assert set(snapshot) == {"openai"}
    assert snapshot["openai"]["error_rate"] == 1.0
    assert snapshot["openai"]["error_status"] == 502
    assert snapshot["openai"]["latency"]["ms"] == 1
    assert snapshot["openai"]["hang_rate"] == 0.0  # defaults are filled in
    assert (await chat(http)).status == 502


async def test_control_api_clear_one_scope_or_all(http: aiohttp.ClientSession) -> None:
    for scope in ("*", "openai", "openai:gpt-4o-mini"):
        async with http.post("/_sim/faults", json={"scope": scope, "faults": {"error_rate": 1.0}}) as r:
            assert r.status == 200
    async with http.delete("/_sim/faults", params={"scope": "openai"}) as r:
        assert r.status == 200
    async with http.get("/_sim/faults") as r:
        assert set(await r.json()) == {"*", "openai:gpt-4o-mini"}
    async with http.delete("/_sim/faults") as r:
        assert r.status == 200
    async with http.get("/_sim/faults") as r:
        assert await r.json() == {}
    assert (await chat(http)).status == 200


async def test_stats_count_requests_per_model(http: aiohttp.ClientSession) -> None:
    for model in ("gpt-a", "gpt-a", "gpt-b"):
        assert (await chat(http, model)).status == 200
    async with http.get("/_sim/stats") as r:
        assert await r.json() == {"requests": {"openai:gpt-a": 2, "openai:gpt-b": 1}}


async def test_outage_over_http(http: aiohttp.ClientSession) -> None:
    faults = {"outages": [{"start_s": 0, "duration_s": 3600, "status": 503}]}
    async with http.post("/_sim/faults", json={"scope": "*", "faults": faults}) as r:
        assert r.status == 200
    response = await chat(http)
    assert response.status == 503


async def test_header_forces_an_outcome(http: aiohttp.ClientSession, sim: Simulator) -> None:
    sim.set_faults("openai", {"retry_after_s": 4})
    response = await chat(http, **{"x-sim-fault": "rate_limit"})
    assert response.status == 429
    assert response.headers["retry-after"] == "4"
    assert (await chat(http)).status == 200


async def test_health(http: aiohttp.ClientSession) -> None:
    async with http.get("/health") as r:
        assert await r.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1, 2]",
        b'"openai"',
        b"null",
        b'{"faults": {"error_rate": 1.0}}',
        b'{"scope": "openai", "faults": {"error_rate": "high"}}',
        b'{"scope": "openai", "faults": {"eror_rate": 1.0}}',
        b'{"scope": "openai", "faults": "everything"}',
        b'{"scope": "openai", "faults": null}',
        b'{"scope": "openai", "faults": {"latency": {"dist": "weird"}}}',
        b'{"scope": "openai", "faults": {"outages": [{"start_s": 1}]}}',
    ],
    ids=[
        "not-json", "array", "string", "null", "no-scope", "wrong-type", "unknown-field", "faults-not-object",
        "faults-null", "bad-dist", "outage-without-duration",
    ],
)
async def test_control_api_rejects_bad_input(http: aiohttp.ClientSession, payload: bytes) -> None:
    async with http.post("/_sim/faults", data=payload, headers={"content-type": "application/json"}) as r:
        assert r.status == 400
        body: dict[str, Any] = await r.json()
    assert "expected {scope, faults}" in body["error"]
    async with http.get("/_sim/faults") as r:
        assert await r.json() == {}, "a rejected update changes nothing"
