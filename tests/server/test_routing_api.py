"""Routing through the HTTP app: ``x-switchyard-route`` on every answer, tags and sessions from headers and the
body, the no-candidate errors, ``POST /v1/feedback`` and ``GET /admin/experiments``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.routing.helpers import config

from switchyard import Gateway, GatewayApp, parse_config
from switchyard.simulator import Simulator

CHAT = "/v1/chat/completions"
MASTER = "sk-master-test"


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    routes: dict[str, Any] = {
        "cheap": {"strategy": "cost", "targets": ["opus", "mini", "sonnet"]},
        "private": {"targets": ["mini", "llama"]},
        "reasoning": {"targets": ["o3m"]},
        "ab": {"experiment": {"arms": {"a": {"targets": ["mini"]}, "b": {"targets": ["nano"]}}}},
        "chat": {"strategy": "weighted", "targets": ["mini", "nano", "sonnet"], "affinity": "session"},
    }
    cfg = config(routes, base_url=sim.base_url, routing={"tags": {"private": ["local"]}},
                 governance={"master_key": MASTER})
    async with Gateway(parse_config(cfg, env={})) as gateway:
        app = GatewayApp(gateway)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway",
                                     headers={"authorization": f"Bearer {MASTER}"}) as c:
            yield c


def body(model: str, text: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


async def test_every_answer_explains_its_route(client: httpx.AsyncClient) -> None:
    direct = await client.post(CHAT, json=body("mini"))
    assert direct.headers["x-switchyard-route"] == "strategy=direct; chosen=mini; candidates=mini"
    routed = await client.post(CHAT, json=body("cheap"))
    assert routed.status_code == 200
    assert routed.headers["x-switchyard-route"] == "strategy=cost; chosen=mini; candidates=mini,sonnet,opus"
    stream = await client.post(CHAT, json=body("cheap", stream=True))
    assert stream.status_code == 200
    assert stream.headers["x-switchyard-route"] == "strategy=cost; chosen=mini; candidates=mini,sonnet,opus"


async def test_tags_from_the_header_or_the_body_metadata(client: httpx.AsyncClient) -> None:
    for request in (
        {"json": body("private"), "headers": {"x-switchyard-tags": "private"}},
        {"json": body("private", metadata={"tags": ["private"]})},
    ):
        response = await client.post(CHAT, **request)
        assert response.status_code == 200, response.text
        assert response.headers["x-switchyard-deployment"] == "llama"
        assert response.headers["x-switchyard-route"].endswith("chosen=llama; candidates=llama")
    rejected = await client.post(CHAT, json=body("mini"), headers={"x-switchyard-tags": "private"})
    assert rejected.status_code == 400
    error = rejected.json()["error"]
    assert error["code"] == "no_candidate"
    assert error["message"] == "no deployment of 'mini' can serve this request: tags removed mini (lacks tag local)"


async def test_no_capable_deployment_is_400_and_no_healthy_one_503(client: httpx.AsyncClient) -> None:
    image = [{"type": "text", "text": "what is this"},
             {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]
    response = await client.post(CHAT, json={"model": "reasoning", "messages": [{"role": "user", "content": image}]})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "capability removed o3m (no vision)" in response.json()["error"]["message"]


async def test_open_breakers_everywhere_is_503(sim: Simulator) -> None:
    cfg = config({"pair": {"targets": ["mini", "nano"]}}, base_url=sim.base_url)
    async with Gateway(parse_config(cfg, env={})) as gateway:
        for name in ("mini", "nano"):
            await gateway.breaker.failure(name, "down", force_open=True)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=GatewayApp(gateway)),
                                     base_url="http://gateway") as c:
            response = await c.post(CHAT, json=body("pair"))
    assert response.status_code == 503
    assert response.json()["error"]["message"].endswith(
        "health removed mini (circuit breaker open), nano (circuit breaker open)")


async def test_session_header_keeps_a_conversation_on_one_deployment(client: httpx.AsyncClient) -> None:
    served = set()
    for _ in range(12):
        response = await client.post(CHAT, json=body("chat"), headers={"x-switchyard-session": "conv-7"})
        served.add(response.headers["x-switchyard-deployment"])
    assert len(served) == 1
    assert "affinity=hit" in response.headers["x-switchyard-route"]


async def test_feedback_reaches_the_experiment_report(client: httpx.AsyncClient) -> None:
    arms: dict[str, str] = {}
    for u in range(12):
        response = await client.post(CHAT, json=body("ab", user=f"user-{u}"))
        arm = dict(p.split("=") for p in response.headers["x-switchyard-route"].split("; "))["arm"]
        # Feedback by the body's id and by the request id both work.
        by_body = await client.post("/v1/feedback", json={"id": response.json()["id"], "score": 1})
        assert by_body.status_code == 200, by_body.text
        assert by_body.json()["arm"] == arm
        again = await client.post("/v1/feedback", json={"id": response.headers["x-request-id"], "score": 0})
        assert again.json() == {"id": response.headers["x-request-id"], "recorded": True, "route": "ab",
                                "arm": arm, "deployment": {"a": "mini", "b": "nano"}[arm]}
        arms[f"user-{u}"] = arm
    report = (await client.get("/admin/experiments")).json()["experiments"]["ab"]["arms"]
    for arm in ("a", "b"):
        count = sum(1 for a in arms.values() if a == arm)
        assert report[arm]["requests"] == count
        assert report[arm]["feedback_count"] == count
        if count:
            assert report[arm]["feedback_mean"] == 0.0  # the second score replaced the first


async def test_feedback_errors(client: httpx.AsyncClient) -> None:
    unknown = await client.post("/v1/feedback", json={"id": "chatcmpl-nope", "score": 1})
    assert unknown.status_code == 404
    assert "not from a route with an experiment" in unknown.json()["error"]["message"]
    plain = await client.post(CHAT, json=body("cheap"))
    not_remembered = await client.post("/v1/feedback", json={"id": plain.json()["id"], "score": 1})
    assert not_remembered.status_code == 404
    malformed = await client.post("/v1/feedback", json={"id": "x"})
    assert malformed.status_code == 400
    assert "score" in malformed.json()["error"]["message"]
    anonymous = await client.get("/admin/experiments", headers={"authorization": "Bearer wrong"})
    assert anonymous.status_code == 401
