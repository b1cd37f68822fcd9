"""Session affinity: the map itself, and stickiness through a real gateway and simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.routing.helpers import ask, config

from switchyard import Gateway, parse_config
from switchyard.governance.principal import Principal
from switchyard.routing.affinity import Affinity
from switchyard.simulator import Simulator


def test_entries_expire_after_their_ttl_and_the_oldest_go_first() -> None:
    now = [0.0]
    affinity = Affinity(ttl_s=10, max_entries=2, clock=lambda: now[0])
    affinity.remember("r", "alice", "a")
    now[0] = 5
    affinity.remember("r", "bob", "b")
    assert (affinity.get("r", "alice"), affinity.get("other", "alice")) == ("a", None)
    now[0] = 11
    assert affinity.get("r", "alice") is None  # 11 s after its last request
    assert affinity.get("r", "bob") == "b"
    affinity.remember("r", "carol", "c")
    affinity.remember("r", "dave", "d")
    assert len(affinity) == 2
    assert affinity.get("r", "bob") is None  # least recently used, evicted


@pytest.fixture
async def gw(sim: Simulator) -> AsyncIterator[Gateway]:
    routes: dict[str, Any] = {
        "sticky": {"strategy": "weighted", "targets": ["mini", "nano", "sonnet"], "affinity": "user"},
        "chat": {"strategy": "weighted", "targets": ["mini", "nano", "sonnet"], "affinity": "session"},
    }
    async with Gateway(parse_config(config(routes, base_url=sim.base_url), env={})) as gateway:
        yield gateway


async def served(gw: Gateway, user: str | None = None, **fields: Any) -> tuple[str, bool]:
    request = ask(fields.pop("model", "sticky"), **fields)
    response = await gw.chat(request, principal=Principal(user=user))
    assert response.meta is not None
    assert response.meta.routing is not None
    return response.meta.deployment, response.meta.routing.affinity


async def test_a_user_sticks_to_one_deployment_until_it_is_unhealthy(gw: Gateway) -> None:
    first, _ = await served(gw, "alice")
    assert [await served(gw, "alice") for _ in range(15)] == [(first, True)] * 15
    # Without affinity a weighted route would have spread 15 requests over three deployments.
    others = {(await served(gw, f"user-{i}"))[0] for i in range(30)}
    assert len(others) > 1
    await gw.breaker.failure(first, "down", force_open=True)
    moved, stuck = await served(gw, "alice")
    assert moved != first
    assert not stuck
    assert [await served(gw, "alice") for _ in range(5)] == [(moved, True)] * 5


async def test_session_affinity_follows_the_session_header_not_the_user(gw: Gateway) -> None:
    first, _ = await served(gw, "alice", model="chat", session="conversation-1")
    for i in range(10):
        assert await served(gw, f"anyone-{i}", model="chat", session="conversation-1") == (first, True)
    # No session: no affinity, whoever the user is.
    assert not (await served(gw, "alice", model="chat"))[1]
