"""The ASGI app driven in-process (httpx's ASGI transport) against a real simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import sim_config

from switchyard import Gateway, GatewayApp, parse_config
from switchyard.simulator import Simulator

CHAT = "/v1/chat/completions"


@pytest.fixture
async def app(sim: Simulator) -> AsyncIterator[GatewayApp]:
    async with Gateway(parse_config(sim_config(sim.base_url))) as gateway:
        yield GatewayApp(gateway, max_body_bytes=64 * 1024)


@pytest.fixture
async def client(app: GatewayApp) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as c:
        yield c


def body(model: str = "gpt", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hello there"}], **extra}


def sse_events(text: str) -> list[str]:
    return [line[6:] for line in text.split("\n") if line.startswith("data: ")]


async def test_chat_completion_answers_with_provider_headers(client: httpx.AsyncClient) -> None:
    response = await client.post(CHAT, json=body())
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion"
    assert data["model"] == "gpt"
    assert data["choices"][0]["message"] == {
        "role": "assistant",
        "content": "gpt-4o-mini says: hello there",
        "refusal": None,
    }
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"]["total_tokens"] == data["usage"]["prompt_tokens"] + data["usage"]["completion_tokens"]
    assert response.headers["x-switchyard-provider"] == "openai"
    assert response.headers["x-switchyard-deployment"] == "gpt"
    assert response.headers["x-switchyard-model"] == "gpt-4o-mini"
    assert response.headers["x-switchyard-attempts"] == "1"
    assert response.headers["x-switchyard-fallback"] == "false"
    assert len(response.headers["x-request-id"]) == 32


async def test_request_id_is_echoed_when_valid_and_replaced_when_not(client: httpx.AsyncClient) -> None:
    echoed = await client.post(CHAT, json=body(), headers={"x-request-id": "trace-123.abc"})
    assert echoed.headers["x-request-id"] == "trace-123.abc"
    replaced = await client.post(CHAT, json=body(), headers={"x-request-id": "bad id\twith spaces"})
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"
    assert len(replaced.headers["x-request-id"]) == 32


async def test_fallback_is_visible_in_headers(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.set_faults("openai:gpt-flaky", {"error_rate": 1.0, "error_status": 503})
    response = await client.post(CHAT, json=body("chain"))
    assert response.status_code == 200
    assert response.headers["x-switchyard-deployment"] == "claude"
    assert response.headers["x-switchyard-attempts"] == "3"
    assert response.headers["x-switchyard-fallback"] == "true"


async def test_all_attempts_failed_lists_each_attempt(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.set_faults("openai:gpt-flaky", {"error_rate": 1.0, "error_status": 500})
    response = await client.post(CHAT, json=body("only-dead"))
    # Every failure was a capacity problem (unreachable, 5xx): 503 tells the client to come back later.
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "all_attempts_failed"
    # Both deployments first, then each one's retries (after jittered backoff, so in either order).
    attempts = [(a["deployment"], a["type"]) for a in error["attempts"]]
    assert attempts[:2] == [("dead", "UpstreamUnavailableError"), ("flaky", "UpstreamUnavailableError")]
    assert sorted(attempts) == [("dead", "UpstreamUnavailableError")] * 3 + [("flaky", "UpstreamUnavailableError")] * 3
    assert error["attempts"][1]["status"] == 500
    assert "x-request-id" in response.headers


async def test_all_attempts_failed_with_a_broken_upstream_is_502(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.set_faults("openai:gpt-flaky", {"garbled_rate": 1.0})
    response = await client.post(CHAT, json=body("only-dead"))
    assert response.status_code == 502
    attempts = response.json()["error"]["attempts"]
    assert sorted((a["deployment"], a["type"]) for a in attempts) == [
        ("dead", "UpstreamUnavailableError")] * 3 + [("flaky", "MalformedResponseError")] * 3


async def test_rate_limit_passes_through_with_retry_after(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.set_faults("openai", {"rate_limit_rate": 1.0, "retry_after_s": 12})
    response = await client.post(CHAT, json=body())
    assert response.status_code == 429
    assert response.headers["retry-after"] == "12"
    assert response.json()["error"]["type"] == "rate_limit_error"


@pytest.mark.parametrize(
    ("content", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (orjson.dumps({"messages": []}), 400, "missing required field `model`"),
        (orjson.dumps(body(temperature="hot")), 400, "at 'temperature'"),
        (orjson.dumps(body(temperature=7)), 400, "'temperature' must be between 0 and 2"),
        (orjson.dumps({"model": "gpt", "messages": []}), 400, "at least one message"),
        (orjson.dumps({"model": "gpt", "messages": [{"role": "wizard", "content": "x"}]}), 400, "messages[0]"),
        (orjson.dumps({"model": "gpt", "messages": [{"role": "user", "content": "x", "colour": 1}]}), 400, "colour"),
        (orjson.dumps(body("nope")), 404, "unknown model or route 'nope'"),
        (orjson.dumps(body(stream_options={"include_usage": True})), 400, "only allowed when 'stream' is true"),
    ],
)
async def test_client_mistakes_get_clear_4xx(
    client: httpx.AsyncClient, content: bytes, status: int, fragment: str
) -> None:
    response = await client.post(CHAT, content=content, headers={"content-type": "application/json"})
    assert response.status_code == status
    error = response.json()["error"]
    assert fragment in error["message"]
    assert "Traceback" not in response.text


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    huge = body(messages=[{"role": "user", "content": "x" * 100_000}])
    response = await client.post(CHAT, json=huge)
    assert response.status_code == 413
    assert "exceeds 65536 bytes" in response.json()["error"]["message"]


async def test_unknown_path_and_wrong_method(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no endpoint GET /v1/nothing-here"
    wrong = await client.get(CHAT)
    assert wrong.status_code == 405


async def test_unsupported_feature_is_400_naming_the_provider(client: httpx.AsyncClient) -> None:
    response = await client.post(CHAT, json=body("claude", logit_bias={"50256": -100}))
    assert response.status_code == 400
    assert "provider 'anthropic'" in response.json()["error"]["message"]
    assert "logit_bias" in response.json()["error"]["message"]


async def test_unknown_top_level_fields_are_passed_through(client: httpx.AsyncClient, sim: Simulator) -> None:
    # The simulator ignores unknown fields, as OpenAI-compatible servers commonly do; what matters is that
    # the gateway forwards them rather than dropping them: checked at the translation layer elsewhere.
    response = await client.post(CHAT, json=body(service_tier="auto"))
    assert response.status_code == 200


async def test_models_lists_deployments_and_routes(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/models")
    assert response.status_code == 200
    ids = {m["id"]: m["owned_by"] for m in response.json()["data"]}
    assert ids["gpt"] == "openai"
    assert ids["claude"] == "anthropic"
    assert ids["chain"] == "switchyard-route"


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_stream_with_usage_and_done(client: httpx.AsyncClient) -> None:
    response = await client.post(CHAT, json=body(stream=True, stream_options={"include_usage": True}))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-switchyard-provider"] == "openai"
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    chunks = [orjson.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "gpt" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "gpt-4o-mini says: hello there"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] > 0
    assert all(c["usage"] is None for c in chunks[:-1])
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]][-1] == "stop"


async def test_stream_without_usage_has_no_usage_chunk(client: httpx.AsyncClient) -> None:
    response = await client.post(CHAT, json=body(stream=True))
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    assert all("usage" not in orjson.loads(e) for e in events[:-1])


async def test_stream_falls_back_before_first_chunk(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.set_faults("openai:gpt-flaky", {"error_rate": 1.0})
    response = await client.post(CHAT, json=body("chain", stream=True))
    assert response.status_code == 200
    assert response.headers["x-switchyard-deployment"] == "claude"
    assert sse_events(response.text)[-1] == "[DONE]"


async def test_stream_failing_before_any_output_is_a_json_error(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.set_faults("openai", {"error_rate": 1.0, "error_status": 500})
    response = await client.post(CHAT, json=body(stream=True))
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["type"] == "upstream_unavailable"


async def test_stream_cut_mid_way_ends_with_error_event(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.set_faults("openai", {"cut_stream_rate": 1.0, "cut_after_chunks": 2})
    response = await client.post(CHAT, json=body(stream=True))
    assert response.status_code == 200
    events = sse_events(response.text)
    last = orjson.loads(events[-1])
    assert last["error"]["type"] == "upstream_unavailable"
    assert "[DONE]" not in events
    assert orjson.loads(events[0])["choices"][0]["delta"]["role"] == "assistant"
