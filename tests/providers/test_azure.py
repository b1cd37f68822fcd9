"""Azure OpenAI: deployment URLs with ``api-version``, the ``api-key`` header, no ``model`` in the body, and
content filtering as an error — against a real simulator that records what it received."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from tests.conftest import SINGLE_SHOT

from switchyard import Gateway, parse_config
from switchyard.errors import AuthenticationError, ContentFilteredError
from switchyard.providers.azure import AzureOpenAIAdapter
from switchyard.providers.presets import PRESETS
from switchyard.simulator import Simulator
from switchyard.types import ChatRequest, Message

KEY = "az-test-key"
DEPLOYMENT = "gpt-4o-prod"


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Wire:
    """A simulator that also records every request it receives, as it arrived."""

    sim: Simulator
    seen: list[Seen] = field(default_factory=list)


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    sim = Simulator()
    recorded = Wire(sim)

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()  # cached: the handler reads it again
        headers = {k.lower(): v for k, v in request.headers.items()}
        recorded.seen.append(Seen(request.path, dict(request.query), headers, orjson.loads(raw) if raw else {}))
        response: web.StreamResponse = await handler(request)
        return response

    sim.app.middlewares.append(record)
    async with sim:
        yield recorded


def config(base_url: str, **provider: Any) -> dict[str, Any]:
    return {
        "resilience": SINGLE_SHOT,
        "providers": {
            "azure": {"type": "azure", "api_key": KEY, "base_url": base_url, **provider},
            "openai": {"type": "openai", "api_key": "sk-other", "base_url": f"{base_url}/v1"},
        },
        "models": {"az": {"provider": "azure", "model": DEPLOYMENT}, "gpt": {"provider": "openai", "model": "gpt-x"}},
        "routes": {"az-then-gpt": {"targets": ["az", "gpt"]}},
    }


@pytest.fixture
async def gw(wire: Wire) -> AsyncIterator[Gateway]:
    async with Gateway(parse_config(config(wire.sim.base_url))) as gateway:
        yield gateway


def ask(model: str = "az", **fields: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message.user("hello")], **fields)


async def test_chat_uses_the_deployment_url_and_api_key(gw: Gateway, wire: Wire) -> None:
    assert type(gw.deployments["az"].adapter) is AzureOpenAIAdapter
    response = await gw.chat(ask(max_tokens=100))
    assert response.text == f"{DEPLOYMENT} says: hello"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None
    assert response.usage.output_tokens > 0
    assert response.meta is not None
    assert (response.meta.deployment, response.meta.provider) == ("az", "azure")
    [seen] = wire.seen
    assert seen.path == f"/openai/deployments/{DEPLOYMENT}/chat/completions"
    assert seen.query == {"api-version": PRESETS["azure"].default_api_version}
    assert seen.headers["api-key"] == KEY
    assert "authorization" not in seen.headers
    assert "model" not in seen.body
    assert seen.body["max_completion_tokens"] == 100
    assert wire.sim.requests == {f"azure:{DEPLOYMENT}": 1}


@pytest.mark.parametrize("suffix", ["", "/"])
async def test_configured_api_version(wire: Wire, suffix: str) -> None:
    cfg = config(wire.sim.base_url + suffix, api_version="2025-01-01-preview")
    async with Gateway(parse_config(cfg)) as gw:
        await gw.chat(ask())
    [seen] = wire.seen
    assert seen.path == f"/openai/deployments/{DEPLOYMENT}/chat/completions"
    assert seen.query == {"api-version": "2025-01-01-preview"}


async def test_streaming(gw: Gateway, wire: Wire) -> None:
    question = [Message.user("one two three four five six seven")]
    complete = await gw.chat(ChatRequest(model="az", messages=question))
    stream = await gw.stream(ChatRequest(model="az", messages=question, stream=True))
    chunks = [chunk async for chunk in stream]
    assert stream.meta.provider == "azure"
    assert len([c for c in chunks if c.text]) > 1
    assert "".join(c.text or "" for c in chunks) == complete.text
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert chunks[-1].usage == complete.usage
    streamed = wire.seen[1]
    assert streamed.body["stream"] is True
    assert streamed.body["stream_options"] == {"include_usage": True}
    assert "model" not in streamed.body


async def test_content_filter_by_header(wire: Wire) -> None:
    cfg = config(wire.sim.base_url, headers={"x-sim-fault": "content_filter"})
    async with Gateway(parse_config(cfg)) as gw:
        with pytest.raises(ContentFilteredError) as caught:
            await gw.chat(ask())
        with pytest.raises(ContentFilteredError):
            await gw.stream(ask(stream=True))
    exc = caught.value
    assert (exc.fallback, exc.retryable) == (False, False)
    assert (exc.upstream_status, exc.code, exc.status_code) == (400, "content_filter", 400)
    assert (exc.provider, exc.deployment) == ("azure", "az")
    assert "content management policy" in exc.message
    assert wire.seen[0].headers["x-sim-fault"] == "content_filter"


async def test_content_filter_by_fault_does_not_fall_back(gw: Gateway, wire: Wire) -> None:
    wire.sim.set_faults("azure", {"content_filter_rate": 1.0})
    with pytest.raises(ContentFilteredError):
        await gw.chat(ask("az-then-gpt"))
    # The next target was never asked: another provider answering what one refused is a policy decision.
    assert wire.sim.requests == {f"azure:{DEPLOYMENT}": 1}


async def test_azure_faults_leave_openai_alone(gw: Gateway, wire: Wire) -> None:
    wire.sim.set_faults("azure", {"content_filter_rate": 1.0})
    assert (await gw.chat(ask("gpt"))).text == "gpt-x says: hello"


async def test_invalid_key(wire: Wire) -> None:
    async with Gateway(parse_config(config(wire.sim.base_url, api_key="invalid"))) as gw:
        with pytest.raises(AuthenticationError) as caught:
            await gw.chat(ask())
    assert caught.value.upstream_status == 401
    assert wire.seen[0].headers["api-key"] == "invalid"
