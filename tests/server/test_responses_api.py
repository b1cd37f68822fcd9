"""``POST /v1/responses`` through the ASGI app (in-process) against a real simulator: headers, errors, the gateway
controls the chat endpoint has (tags, max_cost), and streams that fail before or after output began."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import sim_config

from switchyard import Gateway, GatewayApp, parse_config
from switchyard.simulator import Simulator

RESPONSES = "/v1/responses"


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with Gateway(parse_config(sim_config(sim.base_url))) as gateway:
        transport = httpx.ASGITransport(app=GatewayApp(gateway))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
            yield c


def body(model: str = "gpt", **extra: Any) -> dict[str, Any]:
    return {"model": model, "input": "hello there", **extra}


def events(text: str) -> list[dict[str, Any]]:
    return [orjson.loads(line[6:]) for line in text.split("\n") if line.startswith("data: ")]


async def test_answer_carries_gateway_headers_and_the_request_id(client: httpx.AsyncClient) -> None:
    response = await client.post(RESPONSES, json=body("claude"), headers={"x-request-id": "req-42"})
    assert response.status_code == 200
    data = response.json()
    assert data["id"] == "resp_req-42"
    assert data["output"][0]["content"][0]["text"] == "claude-sonnet-4-6 says: hello there"
    assert response.headers["x-request-id"] == "req-42"
    assert response.headers["x-switchyard-provider"] == "anthropic"
    assert response.headers["x-switchyard-deployment"] == "claude"
    assert response.headers["x-switchyard-model"] == "claude-sonnet-4-6"
    assert float(response.headers["x-switchyard-cost-usd"]) > 0
    assert data["usage"]["cost_usd"] == pytest.approx(float(response.headers["x-switchyard-cost-usd"]))


async def test_short_path_and_wrong_method(client: httpx.AsyncClient) -> None:
    short = await client.post("/responses", json=body())
    assert short.status_code == 200
    assert short.json()["object"] == "response"
    wrong = await client.get(RESPONSES)
    assert wrong.status_code == 405
    assert "accepts POST only" in wrong.json()["error"]["message"]


async def test_client_mistakes_are_openai_error_bodies(client: httpx.AsyncClient) -> None:
    unknown = await client.post(RESPONSES, json=body(frequency_penalty=1))
    assert unknown.status_code == 400
    assert unknown.json()["error"] == {
        "message": "unknown parameter 'frequency_penalty'",
        "type": "invalid_request_error",
        "param": "frequency_penalty",
        "code": "unknown_parameter",
    }
    stored = await client.post(RESPONSES, json=body(previous_response_id="resp_1"))
    assert stored.status_code == 400
    assert stored.json()["error"]["message"] == (
        "'previous_response_id': stored conversations are not supported yet; send the full input with store: false"
    )
    missing = await client.post(RESPONSES, json=body("no-such"))
    assert missing.status_code == 404


async def test_metadata_tags_route_and_max_cost_limits(client: httpx.AsyncClient) -> None:
    tagged = await client.post(RESPONSES, json=body(metadata={"tags": "private"}))
    assert tagged.status_code == 400
    assert tagged.json()["error"]["code"] == "no_candidate"
    assert "lacks tag private" in tagged.json()["error"]["message"]
    capped = await client.post(RESPONSES, json=body(max_cost=0.0000001))
    assert capped.status_code == 400
    assert "max_cost" in capped.json()["error"]["message"]


async def test_stream_failing_before_any_output_is_a_json_error(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.set_faults("openai", {"error_rate": 1.0, "error_status": 500})
    response = await client.post(RESPONSES, json=body(stream=True))
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["type"] == "upstream_unavailable"


async def test_stream_falls_back_before_first_chunk(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.set_faults("openai:gpt-flaky", {"error_rate": 1.0})
    response = await client.post(RESPONSES, json=body("chain", stream=True))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-switchyard-deployment"] == "claude"
    stream = events(response.text)
    assert stream[-1]["type"] == "response.completed"
    assert stream[-1]["response"]["output"][0]["content"][0]["text"] == "claude-sonnet-4-6 says: hello there"
    assert stream[-1]["response"]["usage"]["cost_usd"] > 0


async def test_stream_cut_mid_way_ends_with_error_then_failed(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.set_faults("openai", {"cut_stream_rate": 1.0, "cut_after_chunks": 2})
    response = await client.post(RESPONSES, json=body(input="one two three four five six seven", stream=True))
    assert response.status_code == 200
    stream = events(response.text)
    error, failed = stream[-2:]
    assert error["type"] == "error"
    assert error["code"] == "upstream_unavailable"
    assert failed["type"] == "response.failed"
    assert failed["response"]["error"]["code"] == "server_error"
    assert failed["response"]["output"][0]["status"] == "incomplete"
    assert not any(e["type"] == "response.completed" for e in stream)
