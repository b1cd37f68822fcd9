"""The hot path makes one Redis round trip per request.

Counted on the client (every command redis-py sends on its own connection is one round trip) and checked on a
private redis-server's statistics: the only scripts run are admissions and settlements, and no breaker
transaction happens while everything is healthy."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from tests.conftest import sim_config
from tests.state.test_redis_outage import PrivateRedis

from switchyard import ChatRequest, Gateway, Message, parse_config
from switchyard.governance.keys import new_key
from switchyard.governance.principal import Principal
from switchyard.governance.records import BudgetSpec, KeyLimits
from switchyard.simulator import Simulator
from switchyard.state.redis import RedisStore


class CountingRedis(aioredis.Redis):
    sent: list[str] = []

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.sent.append(str(args[0]))
        return await super().execute_command(*args, **options)


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


def command_counts(port: int) -> dict[str, int]:
    out = subprocess.run(["redis-cli", "-p", str(port), "info", "commandstats"], capture_output=True, text=True).stdout
    counts: dict[str, int] = {}
    for line in out.splitlines():
        if line.startswith("cmdstat_"):
            name, _, stats = line.partition(":")
            counts[name.removeprefix("cmdstat_")] = int(stats.split(",")[0].split("=")[1])
    return counts


async def test_one_round_trip_before_the_call_one_after(sim: Simulator, redis_server: PrivateRedis) -> None:
    config = sim_config(
        sim.base_url,
        governance={
            "budgets": [{"scope": "global", "limit_usd": 100}, {"scope": "team", "name": "t", "limit_usd": 10}],
            "model_limits": {"gpt": {"rpm": 10_000, "tpm": 10_000_000}},
            "state": {"backend": "redis", "url": f"redis://127.0.0.1:{redis_server.port}/0"},
        },
    )
    _, key = new_key("k", limits=KeyLimits(rpm=10_000), budgets=[BudgetSpec(limit_usd=5)], team="t")
    principal = Principal.of(key, features=("search",))
    request = ChatRequest(model="gpt", messages=[Message.user("hi")], max_tokens=20)
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    store = RedisStore(url, client=CountingRedis.from_url(url))
    async with Gateway(parse_config(config), state=store) as gateway:
        await gateway.chat(request, principal=principal)  # warm-up: script load, breaker mirror
        await asyncio.sleep(0.05)
        CountingRedis.sent.clear()
        before = command_counts(redis_server.port)
        for _ in range(50):
            await gateway.chat(request, principal=principal)
        await asyncio.sleep(0.05)
        sent = list(CountingRedis.sent)
        after = command_counts(redis_server.port)
    # 50 admissions (before each call) and 50 settlements (after the response, in the background); the breaker
    # mirror may refresh once a second (a GET).
    assert sent.count("EVALSHA") == 100
    assert len([c for c in sent if c != "EVALSHA"]) <= 2, sent
    for command in ("watch", "multi", "exec", "set"):
        assert after.get(command, 0) == before.get(command, 0), command
