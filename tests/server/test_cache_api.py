"""The cache over HTTP: request headers, ``x-switchyard-cache``, SSE replay, the admin invalidation endpoint and
feedback, through the real server stack against the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import running, sim_config

from switchyard import Gateway, parse_config
from switchyard.cache import CacheControl
from switchyard.errors import InvalidRequestError
from switchyard.server.app import GatewayApp
from switchyard.server.cache_api import cache_control
from switchyard.server.services import build_app
from switchyard.simulator import Simulator

CHAT = "/v1/chat/completions"
MASTER = "sk-master-cache-test"
PERSONAL = b"x-switchyard-personal"


def test_headers_become_cache_controls() -> None:
    assert cache_control([(b"content-type", b"application/json")], PERSONAL) is None
    headers = [
        (b"cache-control", b"No-Cache, no-store, max-age=30, private"),
        (b"x-switchyard-cache-ttl", b"600"),
        (b"x-switchyard-cache-namespace", b" user-42 "),
        (b"x-switchyard-personal", b"false"),
    ]
    assert cache_control(headers, PERSONAL) == CacheControl(
        no_cache=True, no_store=True, max_age_s=30, ttl_s=600, namespace="user-42", personal=False
    )
    assert cache_control([(b"x-switchyard-personal", b"1")], PERSONAL) == CacheControl(personal=True)
    assert cache_control([(b"cache-control", b"max-age=soon")], PERSONAL) == CacheControl()  # ignored, per RFC 9111
    with pytest.raises(InvalidRequestError):
        cache_control([(b"x-switchyard-cache-ttl", b"an hour")], PERSONAL)


def app_for(sim: Simulator, tmp_path: Path, **cache: Any) -> GatewayApp:
    config = sim_config(
        sim.base_url, ledger={"url": f"sqlite:///{tmp_path / 'usage.db'}"}, cache={"enabled": True, **cache},
        governance={"master_key": MASTER},
    )
    return build_app(parse_config(config))


async def new_key(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    created = await client.post("/admin/keys", json={"name": name}, headers={"authorization": f"Bearer {MASTER}"})
    return {"authorization": f"Bearer {created.json()['secret']}"}


def ask(text: str = "What is a switchyard?", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt", "messages": [{"role": "user", "content": text}], **extra}


async def settled(app: GatewayApp) -> None:
    assert app.gateway.cache is not None
    await app.gateway.cache.flush()


def events(body: str) -> list[Any]:
    """The SSE events, with ``created`` (the second the server wrote them) left out."""
    out = []
    for line in body.splitlines():
        if line.startswith("data: {"):
            event = orjson.loads(line[6:])
            event.pop("created", None)
            out.append(event)
        elif line.startswith("data: "):
            out.append(line)
    return out


async def test_the_cache_header_and_per_request_controls(sim: Simulator, tmp_path: Path) -> None:
    app = app_for(sim, tmp_path)
    async with running(app) as client:
        key = await new_key(client, "app")
        first = await client.post(CHAT, json=ask(), headers=key)
        await settled(app)
        second = await client.post(CHAT, json=ask(), headers=key)
        refresh = await client.post(CHAT, json=ask(), headers={**key, "cache-control": "no-cache"})
        personal = await client.post(CHAT, json=ask(), headers={**key, "x-switchyard-personal": "1"})
        hot = await client.post(CHAT, json=ask(temperature=1.8), headers=key)
        other = await client.post(CHAT, json=ask(), headers=await new_key(client, "other tenant"))
    cache = [r.headers["x-switchyard-cache"] for r in (first, second, refresh, personal, hot, other)]
    assert cache == ["miss", "hit", "skip", "skip", "skip", "miss"]
    assert second.json()["choices"] == first.json()["choices"]
    assert second.headers["x-switchyard-attempts"] == "0"
    assert second.headers["x-switchyard-cost-usd"] == "0.00000000"
    assert second.json()["usage"]["cost_usd"] == 0.0


async def test_a_stream_is_replayed_as_the_same_sse(sim: Simulator, tmp_path: Path) -> None:
    app = app_for(sim, tmp_path)
    body = ask("Tell me about trains.", stream=True, stream_options={"include_usage": True})
    async with running(app) as client:
        key = await new_key(client, "app")
        original = await client.post(CHAT, json=body, headers=key)
        await settled(app)
        replay = await client.post(CHAT, json=body, headers=key)
        plain = await client.post(CHAT, json=ask("Tell me about trains."), headers=key)
    assert (original.headers["x-switchyard-cache"], replay.headers["x-switchyard-cache"]) == ("miss", "hit")
    assert replay.headers["content-type"].startswith("text/event-stream")
    first, again = events(original.text), events(replay.text)
    assert len(first) > 3
    assert first[-1] == "data: [DONE]"
    # Identical but for the usage's cost: the replay cost nothing.
    assert first[:-2] == again[:-2]
    assert first[-2]["usage"]["completion_tokens"] == again[-2]["usage"]["completion_tokens"]
    assert again[-2]["usage"]["cost_usd"] == 0.0
    # The same entry answers the plain request too.
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in first if isinstance(e, dict) and e["choices"])
    assert plain.headers["x-switchyard-cache"] == "hit"
    assert plain.json()["choices"][0]["message"]["content"] == text


async def test_admin_invalidation_and_state(sim: Simulator, tmp_path: Path) -> None:
    app = app_for(sim, tmp_path)
    admin = {"authorization": f"Bearer {MASTER}"}
    async with running(app) as client:
        key = await new_key(client, "app")
        listed = (await client.get("/admin/keys", headers=admin)).json()["data"]
        key_id = next(k["id"] for k in listed if k["name"] == "app")
        await client.post(CHAT, json=ask(), headers=key)
        await settled(app)
        bumped = await client.post("/admin/cache/invalidate", json={"namespace": f"key:{key_id}"}, headers=admin)
        after = await client.post(CHAT, json=ask(), headers=key)
        refused = await client.post("/admin/cache/invalidate", json={"namespace": f"key:{key_id}"}, headers=key)
        malformed = await client.post("/admin/cache/invalidate", json={"ns": "x"}, headers=admin)
        state = (await client.get("/admin/state", headers=admin)).json()
    assert bumped.status_code == 200
    assert bumped.json() == {"namespace": f"key:{key_id}", "version": 1}
    assert after.headers["x-switchyard-cache"] == "miss"
    assert (refused.status_code, malformed.status_code) == (401, 400)  # the master key only
    assert state["cache"]["totals"] == {"miss": 2}
    assert state["cache"]["store"]["backend"] == "memory"
    assert state["cache"]["lookup_ms"]["count"] == 2


async def test_negative_feedback_on_a_cached_answer_removes_it(sim: Simulator, tmp_path: Path) -> None:
    app = app_for(sim, tmp_path)
    async with running(app) as client:
        key = await new_key(client, "app")
        await client.post(CHAT, json=ask(), headers=key)
        await settled(app)
        hit = await client.post(CHAT, json=ask(), headers=key)
        liked = await client.post("/v1/feedback", json={"id": hit.json()["id"], "score": 1}, headers=key)
        disliked = await client.post("/v1/feedback", json={"id": hit.headers["x-request-id"], "score": 0}, headers=key)
        after = await client.post(CHAT, json=ask(), headers=key)
    assert hit.headers["x-switchyard-cache"] == "hit"
    assert (liked.status_code, liked.json()["cache_evicted"]) == (200, False)
    assert (disliked.status_code, disliked.json()["cache_evicted"]) == (200, True)
    assert after.headers["x-switchyard-cache"] == "miss"


async def test_no_cache_header_when_caching_is_off(sim: Simulator) -> None:
    app = GatewayApp(Gateway(parse_config(sim_config(sim.base_url))))
    async with running(app) as client:
        response = await client.post(CHAT, json=ask())
    assert response.status_code == 200
    assert "x-switchyard-cache" not in response.headers
