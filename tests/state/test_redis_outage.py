"""A Redis that dies and comes back: the store and the gateway follow the configured policy, never crash, and
recover on their own. Uses a private redis-server on a free port so the shared one is never disturbed."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
from tests.conftest import free_port, sim_config

from switchyard import ChatRequest, Gateway, Message, parse_config
from switchyard.errors import StateUnavailableError
from switchyard.governance.principal import Principal
from switchyard.simulator import Simulator
from switchyard.state.ops import Admit, RateCheck
from switchyard.state.redis import RedisStore

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout != b"PONG\n":
            assert time.monotonic() < deadline, "private redis-server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=5)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


async def test_store_fails_fast_while_down_and_recovers_by_itself(redis_server: PrivateRedis) -> None:
    store = RedisStore(f"redis://127.0.0.1:{redis_server.port}/0", retry_s=0.2)
    check = RateCheck(key=store.key("rate", "x"), name="x", limit=100, amount=1)
    assert (await store.admit(Admit(member="a", limits=[check]))).rate_used == [1]
    redis_server.stop()
    with pytest.raises(StateUnavailableError, match="unreachable"):
        await store.admit(Admit(member="b", limits=[check]))
    started = time.perf_counter()
    with pytest.raises(StateUnavailableError):
        await store.admit(Admit(member="c", limits=[check]))
    assert time.perf_counter() - started < 0.05  # no socket wait while known down
    redis_server.start()
    await asyncio.sleep(0.25)
    # A fresh server (nothing persisted): the count starts again, and nobody had to intervene.
    assert (await store.admit(Admit(member="d", limits=[check]))).rate_used == [1]
    await store.aclose()


def _config(sim: Simulator, port: int, on_error: str) -> dict[str, object]:
    return sim_config(
        sim.base_url,
        governance={
            "model_limits": {"gpt": {"rpm": 1000}},
            "state": {"backend": "redis", "url": f"redis://127.0.0.1:{port}/0", "on_error": on_error,
                      "namespace": f"t-{uuid.uuid4().hex[:6]}"},
        },
    )


def ask() -> ChatRequest:
    return ChatRequest(model="gpt", messages=[Message.user("hi")])


@pytest.mark.parametrize("on_error", ["open", "closed"])
async def test_gateway_follows_the_policy_when_redis_dies(
    sim: Simulator, redis_server: PrivateRedis, on_error: str
) -> None:
    async with Gateway(parse_config(_config(sim, redis_server.port, on_error))) as gateway:
        assert (await gateway.chat(ask(), principal=Principal())).meta is not None
        redis_server.stop()
        if on_error == "open":
            response = await gateway.chat(ask())
            assert response.choices[0].message.content
            assert gateway.governor.unavailable >= 1
        else:
            with pytest.raises(StateUnavailableError) as caught:
                await gateway.chat(ask())
            assert caught.value.status_code == 503
        redis_server.start()
        await asyncio.sleep(1.1)  # the store's retry pause (1 s) has passed
        counted_before = gateway.governor.unavailable
        await gateway.chat(ask())
        assert gateway.governor.unavailable == counted_before
