"""The chaos suite's acceptance checks, under sustained concurrent load against the simulator. ``bench/chaos.py``
runs the same scenarios at larger scale and prints the figures."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from typing import Any

import pytest

from switchyard import ChatRequest, Gateway, Message, parse_config
from switchyard.simulator import Simulator

COOLDOWN_S = 0.6


@pytest.fixture
async def gw(sim: Simulator) -> Any:
    config = {
        "providers": {
            "primary": {"type": "openai", "api_key": "sk-c", "base_url": f"{sim.base_url}/v1",
                        "timeout": {"read": 1.0, "first_token": 0.3}},
            "backup": {"type": "gemini", "api_key": "gem-c", "base_url": sim.base_url},
        },
        "models": {"main": {"provider": "primary", "model": "gpt-c"},
                   "spare": {"provider": "backup", "model": "gemini-2.0-flash"}},
        "routes": {"app": {"targets": ["main"], "fallbacks": ["spare"]}},
        "resilience": {"breaker": {"cooldown_s": COOLDOWN_S}, "retry": {"backoff_base_s": 0.005}},
    }
    async with Gateway(parse_config(config)) as gateway:
        yield gateway


async def load(gw: Gateway, total: int, *, stream: bool = False, concurrency: int = 16) -> Counter[str]:
    """Who answered each of ``total`` requests (``error: ...`` for failures)."""
    numbers = iter(range(total))
    outcomes: Counter[str] = Counter()

    async def worker() -> None:
        for _ in numbers:
            request = ChatRequest(model="app", messages=[Message.user("one two three four five")], stream=stream)
            try:
                if stream:
                    chat_stream = await gw.stream(request)
                    text = "".join([c.text or "" async for c in chat_stream])
                    who = chat_stream.meta.deployment
                else:
                    response = await gw.chat(request)
                    text, who = response.text, response.meta.deployment if response.meta else "?"
                outcomes[who if text.endswith("one two three four five") else "error: wrong text"] += 1
            except Exception as exc:
                outcomes[f"error: {type(exc).__name__}: {exc}"] += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcomes


async def test_full_primary_outage_loses_no_request_and_recovers(gw: Gateway, sim: Simulator) -> None:
    assert await load(gw, 200) == {"main": 200}
    # Measured once the pool is warm: each pooled connection has a socket on both ends and a simulator-side task.
    fds, tasks = len(os.listdir("/proc/self/fd")), len(asyncio.all_tasks())
    sim.set_faults("openai", {"error_rate": 1.0, "error_status": 503})
    during = await load(gw, 1000)
    assert during == {"spare": 1000}
    assert (await gw.breaker.snapshot("main")).state == "open"
    # Breaker open: the dead primary is no longer called at all. Reopened here so a full cooldown lies ahead (during
    # the long load above, probes may have reopened it at any moment).
    await gw.breaker.failure("main", "still down", force_open=True)
    calls = sim.requests["openai:gpt-c"]
    assert await load(gw, 100) == {"spare": 100}
    assert sim.requests["openai:gpt-c"] == calls
    sim.clear_faults()
    await asyncio.sleep(COOLDOWN_S + 0.05)
    assert await load(gw, 1, concurrency=1) == {"main": 1}  # the probe
    assert sim.requests["openai:gpt-c"] == calls + 1
    assert (await gw.breaker.snapshot("main")).state == "closed"
    assert await load(gw, 100) == {"main": 100}
    await asyncio.sleep(0.05)
    assert len(asyncio.all_tasks()) <= tasks
    assert len(os.listdir("/proc/self/fd")) <= fds


@pytest.mark.parametrize(
    ("faults", "stream"),
    [
        ({"rate_limit_rate": 1.0, "retry_after_s": 1}, False),
        ({"hang_rate": 0.3, "hang_s": 3}, True),
        ({"cut_stream_rate": 0.5, "cut_after_chunks": 0}, True),
        ({"garbled_rate": 0.5}, False),
        ({"chunk_delay": {"ms": 10}}, True),
    ],
    ids=["429-storm", "hung-upstream", "cut-streams", "garbled-json", "slow-drip"],
)
async def test_chaos_scenarios_lose_no_request(
    gw: Gateway, sim: Simulator, faults: dict[str, Any], stream: bool
) -> None:
    sim.set_faults("openai", faults)
    outcomes = await load(gw, 200, stream=stream)
    assert sum(outcomes.values()) == 200
    assert not [o for o in outcomes if o.startswith("error")], outcomes
