"""``/v1/messages`` and ``/v1/messages/count_tokens`` through the app, against the simulator: what the HTTP layer
adds (headers, error shape from authentication on, Anthropic-only fields, token counts)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.conftest import running, sim_config

from switchyard import Gateway, GatewayApp, parse_config
from switchyard.pricing.tokens import estimate_prompt_tokens
from switchyard.server.anthropic_ingress import parse_count_tokens_request
from switchyard.server.http import Call
from switchyard.simulator import Simulator

MESSAGES = "/v1/messages"


def app_for(sim: Simulator, **extra: Any) -> GatewayApp:
    return GatewayApp(Gateway(parse_config(sim_config(sim.base_url, **extra))))


def ask(model: str = "gpt", **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": "hello there"}], **extra}


async def test_answer_carries_gateway_and_anthropic_headers(sim: Simulator) -> None:
    async with running(app_for(sim)) as client:
        resp = await client.post(MESSAGES, json=ask("gemini"))
    assert resp.status_code == 200
    body = resp.json()
    assert body["content"] == [{"type": "text", "text": "gemini-2.0-flash says: hello there"}]
    assert body["model"] == "gemini"
    assert resp.headers["x-switchyard-provider"] == "gemini"
    assert resp.headers["x-switchyard-model"] == "gemini-2.0-flash"
    assert resp.headers["x-switchyard-cost-usd"]
    assert resp.headers["request-id"] == resp.headers["x-request-id"]


async def test_stream_is_anthropic_sse(sim: Simulator) -> None:
    async with running(app_for(sim)) as client:
        resp = await client.post(MESSAGES, json=ask("gpt", stream=True))
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["x-switchyard-deployment"] == "gpt"
    names = [line.removeprefix("event: ") for line in resp.text.splitlines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    text = "".join(
        orjson.loads(line[6:])["delta"]["text"]
        for line in resp.text.splitlines()
        if line.startswith("data: ") and '"text_delta"' in line
    )
    assert text == "gpt-4o-mini says: hello there"


async def test_errors_are_in_anthropic_shape(sim: Simulator) -> None:
    async with running(app_for(sim)) as client:
        unknown = await client.post(MESSAGES, json=ask("no-such-model"))
        missing = await client.post(MESSAGES, json={"model": "gpt", "messages": [{"role": "user", "content": "x"}]})
        broken = await client.post(MESSAGES, content=b"{")
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "error"
    assert unknown.json()["error"]["type"] == "not_found_error"
    assert "unknown model or route 'no-such-model'" in unknown.json()["error"]["message"]
    assert missing.status_code == 400
    assert missing.json() == {"type": "error", "error": {"type": "invalid_request_error",
                                                          "message": "'max_tokens' is required"}}
    assert broken.status_code == 400
    assert broken.json()["error"]["type"] == "invalid_request_error"


async def test_authentication_errors_are_in_anthropic_shape(sim: Simulator) -> None:
    app = app_for(sim, governance={"master_key": "sk-master-test-only"})
    async with running(app) as client:
        bad = await client.post(MESSAGES, json=ask(), headers={"x-api-key": "wrong"})
        none = await client.post("/v1/messages/count_tokens", json={"model": "gpt", "messages": []})
        good = await client.post(MESSAGES, json=ask(), headers={"x-api-key": "sk-master-test-only"})
    assert bad.status_code == 401
    assert bad.json() == {"type": "error", "error": {"type": "authentication_error", "message": "invalid API key"}}
    assert none.status_code == 401
    assert none.json()["error"]["type"] == "authentication_error"
    assert good.status_code == 200


async def test_upstream_failures_are_in_anthropic_shape(sim: Simulator) -> None:
    async with running(app_for(sim, resilience={"retry": {"max_attempts": 1}})) as client:
        resp = await client.post(MESSAGES, json=ask("dead"))
    assert resp.status_code == 503
    assert resp.json()["type"] == "error"
    assert resp.json()["error"]["type"] == "overloaded_error"
    assert "cannot connect to upstream" in resp.json()["error"]["message"]


async def test_anthropic_only_fields_reach_anthropic_deployments_only(sim: Simulator) -> None:
    async with running(app_for(sim)) as client:
        claude = await client.post(MESSAGES, json=ask("claude", top_k=5))
        gpt = await client.post(MESSAGES, json=ask("gpt", top_k=5))
        route = await client.post(MESSAGES, json=ask("chain", service_tier="auto"))
    assert claude.status_code == 200
    assert claude.json()["content"][0]["text"] == "claude-sonnet-4-6 says: hello there"
    assert gpt.status_code == 400
    assert gpt.json()["error"]["message"] == (
        "'top_k' only reaches Anthropic deployments; 'gpt' is served by provider 'openai': leave it out"
    )
    assert route.status_code == 400
    assert "'chain' is not a single deployment" in route.json()["error"]["message"]


async def test_anthropic_only_fields_check_the_fallback_chain(sim: Simulator) -> None:
    app = app_for(sim, resilience={"fallbacks": ["gpt"]})
    async with running(app) as client:
        resp = await client.post(MESSAGES, json=ask("claude", top_k=5))
    assert resp.status_code == 400
    assert "'gpt' is served by provider 'openai'" in resp.json()["error"]["message"]


async def test_anthropic_only_fields_ignore_fallbacks_of_another_kind(sim: Simulator) -> None:
    # The default chain may hold embedding models for /v1/embeddings; they never serve a Messages request.
    models = {**sim_config(sim.base_url)["models"], "emb": {"provider": "openai", "model": "text-embedding-3-small"}}
    app = app_for(sim, models=models, resilience={"fallbacks": ["emb", "claude"]})
    async with running(app) as client:
        resp = await client.post(MESSAGES, json=ask("claude", top_k=5))
    assert resp.status_code == 200, resp.text
    assert resp.json()["content"][0]["text"] == "claude-sonnet-4-6 says: hello there"


async def test_body_max_cost_is_honoured(sim: Simulator) -> None:
    async with running(app_for(sim)) as client:
        resp = await client.post(MESSAGES, json=ask("gpt", max_cost=1e-12))
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert "max_cost" in resp.json()["error"]["message"]


async def test_count_tokens_is_the_offline_estimate(sim: Simulator) -> None:
    body = {"model": "claude", "system": "Be brief.", "messages": [{"role": "user", "content": "How far is the moon?"}]}
    async with running(app_for(sim)) as client:
        resp = await client.post("/v1/messages/count_tokens", json=body)
        unknown = await client.post("/v1/messages/count_tokens", json={**body, "model": "nope"})
    assert resp.status_code == 200
    expected = estimate_prompt_tokens(parse_count_tokens_request(orjson.dumps(body)))
    assert resp.json() == {"input_tokens": expected}
    assert expected > 5
    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "not_found_error"
    # Nothing was sent upstream.
    assert sim.requests == {}


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
async def test_only_post(sim: Simulator, path: str) -> None:
    async with running(app_for(sim)) as client:
        resp = await client.get(path)
    assert resp.status_code == 405
    # Raised by the app's dispatch, before any Anthropic handler runs, and still in Anthropic's shape.
    assert resp.json() == {"type": "error", "error": {"type": "invalid_request_error",
                                                      "message": f"{path} accepts POST only"}}


async def test_unknown_paths_under_messages_are_in_anthropic_shape(sim: Simulator) -> None:
    async with running(app_for(sim)) as client:
        batches = await client.post("/v1/messages/batches", json={"requests": []})
        chat = await client.post("/v1/chat/nope", json={})
    assert batches.status_code == 404
    assert batches.json() == {"type": "error", "error": {"type": "not_found_error",
                                                         "message": "no endpoint POST /v1/messages/batches"}}
    # Elsewhere the OpenAI shape stays.
    assert chat.status_code == 404
    assert chat.json()["error"]["type"] == "not_found_error"
    assert "type" not in chat.json()


async def test_unexpected_errors_are_in_the_shape_of_the_path(sim: Simulator) -> None:
    async def crash(call: Call) -> None:
        raise RuntimeError("a bug with internals in it")

    app = app_for(sim)
    # A handler with a bug: the route table is the seam (no input reaches a real handler's bug on purpose).
    app._routes["/v1/messages/crash"] = (b"POST", crash)
    app._routes["/v1/crash"] = (b"POST", crash)
    async with running(app) as client:
        anthropic = await client.post("/v1/messages/crash", json={})
        openai = await client.post("/v1/crash", json={})
    request_id = anthropic.headers["x-request-id"]
    assert anthropic.status_code == 500
    assert anthropic.json() == {"type": "error", "error": {
        "type": "api_error", "message": f"internal error (request id {request_id})"}}
    assert openai.status_code == 500
    assert openai.json() == {"error": {
        "message": f"internal error (request id {openai.headers['x-request-id']})", "type": "api_error",
        "param": None, "code": "internal_error"}}
    assert "internals" not in anthropic.text + openai.text
