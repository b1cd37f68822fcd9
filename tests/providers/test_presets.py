"""Vendor presets: every ``type:`` builds, each OpenAI-compatible vendor's quirks reach the wire (checked on a
real simulator that records what it received), capability flags reject requests before anything is sent,
and configuration mistakes name their key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

from switchyard import Gateway, parse_config
from switchyard.config import ProviderConfig
from switchyard.errors import AuthenticationError, ConfigError, UnsupportedFeatureError
from switchyard.providers.presets import PRESETS
from switchyard.providers.registry import build_adapter
from switchyard.providers.transport import AiohttpTransport
from switchyard.simulator import Simulator
from switchyard.types import ChatRequest, Message, ResponseFormat, Tool

KEY = "sk-preset-key"
MODEL = "sim-model"
PNG = "data:image/png;base64,iVBORw0KGgo="


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


def config(type_: str, base_url: str | None, *, api_key: str | None = KEY, **model: Any) -> dict[str, Any]:
    provider: dict[str, Any] = {"type": type_}
    if base_url is not None:
        provider["base_url"] = base_url
    if api_key is not None:
        provider["api_key"] = api_key
    return {"providers": {type_: provider}, "models": {"m": {"provider": type_, "model": MODEL, **model}}}


def ask(*messages: Message, **fields: Any) -> ChatRequest:
    fields.setdefault("messages", list(messages) or [Message.user("hello")])
    return ChatRequest(model="m", **fields)


# -- every preset builds ------------------------------------------------------------------------------------


@pytest.mark.parametrize("type_", sorted(PRESETS))
def test_every_preset_builds(type_: str) -> None:
    preset = PRESETS[type_]
    base_url = None if preset.base_url else "https://example.test"
    provider = ProviderConfig(type=type_, base_url=base_url, api_key=None)
    adapter = build_adapter(type_, provider, AiohttpTransport(), env={})
    assert type(adapter) is preset.adapter
    assert adapter.provider_name == type_
    assert adapter.base_url == (preset.base_url or "https://example.test")
    assert not adapter.base_url.endswith("/")


@pytest.mark.parametrize(
    ("type_", "header", "value"),
    [
        ("openai", "authorization", f"Bearer {KEY}"),
        ("groq", "authorization", f"Bearer {KEY}"),
        ("azure", "api-key", KEY),
        ("azure_ai", "api-key", KEY),
        ("anthropic", "x-api-key", KEY),
        ("gemini", "x-goog-api-key", KEY),
    ],
)
def test_auth_header_style(type_: str, header: str, value: str) -> None:
    provider = parse_config(config(type_, "https://example.test")).providers[type_]
    adapter = build_adapter(type_, provider, AiohttpTransport(), env={})
    auth_headers = {"authorization", "api-key", "x-api-key", "x-goog-api-key"}
    auth = {k: v for k, v in adapter.headers.items() if k in auth_headers}
    assert auth == {header: value}


# -- OpenAI-compatible vendors on the wire ------------------------------------------------------------------

COMPATIBLE = ["openai", "groq", "xai", "deepseek", "mistral", "together", "openrouter", "vllm", "openai_compatible"]


@pytest.mark.parametrize("type_", COMPATIBLE)
async def test_compatible_vendor_hits_chat_completions(wire: Wire, type_: str) -> None:
    async with Gateway(parse_config(config(type_, f"{wire.sim.base_url}/v1"))) as gw:
        response = await gw.chat(ask())
        chunks = [c async for c in await gw.stream(ask(stream=True))]
    assert response.text == f"{MODEL} says: hello"
    assert "".join(c.text or "" for c in chunks) == response.text
    assert [s.path for s in wire.seen] == ["/v1/chat/completions"] * 2
    for seen in wire.seen:
        assert seen.query == {}
        assert seen.headers["authorization"] == f"Bearer {KEY}"
        assert "api-key" not in seen.headers
        assert seen.body["model"] == MODEL
    assert wire.seen[1].body["stream"] is True


async def test_mistral_renames_seed(wire: Wire) -> None:
    async with Gateway(parse_config(config("mistral", f"{wire.sim.base_url}/v1"))) as gw:
        await gw.chat(ask(seed=7, max_tokens=20))
    [seen] = wire.seen
    assert seen.body["random_seed"] == 7
    assert "seed" not in seen.body
    assert seen.body["max_tokens"] == 20


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
async def test_ollama_appends_v1_to_a_bare_host(wire: Wire, suffix: str) -> None:
    async with Gateway(parse_config(config("ollama", wire.sim.base_url + suffix))) as gw:
        assert gw.deployments["m"].adapter.base_url == f"{wire.sim.base_url}/v1"
        response = await gw.chat(ask())
    assert response.text == f"{MODEL} says: hello"
    assert [s.path for s in wire.seen] == ["/v1/chat/completions"]


async def test_ollama_default_base_url() -> None:
    provider = ProviderConfig(type="ollama")
    assert build_adapter("o", provider, AiohttpTransport(), env={}).base_url == "http://127.0.0.1:11434/v1"


async def test_azure_ai_inference(wire: Wire) -> None:
    async with Gateway(parse_config(config("azure_ai", f"{wire.sim.base_url}/models"))) as gw:
        response = await gw.chat(ask())
    assert response.text == f"{MODEL} says: hello"
    [seen] = wire.seen
    assert seen.path == "/models/chat/completions"
    assert seen.query == {"api-version": PRESETS["azure_ai"].query["api-version"]}
    assert seen.headers["api-key"] == KEY
    assert "authorization" not in seen.headers
    assert seen.body["model"] == MODEL


# -- capabilities -------------------------------------------------------------------------------------------

TOOL = Tool(name="f", parameters={"type": "object", "properties": {}})


@pytest.mark.parametrize(
    ("type_", "fields", "feature"),
    [
        ("groq", {"n": 2}, "n > 1"),
        ("groq", {"messages": [Message(role="user", content=Message.user("hi").content, name="bob")]},
         "message 'name' fields"),
        ("deepseek", {"messages": [Message.user("look", PNG)]}, "images (vision)"),
        ("deepseek", {"messages": [Message.user("look", "https://example.com/a.png")]}, "images (vision)"),
        ("deepseek", {"response_format": ResponseFormat(type="json_schema", schema={})}, "response_format json_schema"),
        ("deepseek", {"seed": 1}, "seed"),
        ("mistral", {"logit_bias": {"50256": -100.0}}, "logit_bias"),
        ("ollama", {"logprobs": True}, "logprobs"),
        ("ollama", {"top_logprobs": 2}, "logprobs"),
        ("azure_ai", {"tools": [TOOL], "parallel_tool_calls": False}, "parallel_tool_calls"),
        ("openrouter", {"n": 3}, "n > 1"),
    ],
)
async def test_unsupported_feature_is_rejected_before_sending(
    wire: Wire, type_: str, fields: dict[str, Any], feature: str
) -> None:
    base_url = wire.sim.base_url + ("/models" if type_ == "azure_ai" else "/v1")
    async with Gateway(parse_config(config(type_, base_url))) as gw:
        with pytest.raises(UnsupportedFeatureError) as caught:
            await gw.chat(ask(**fields))
        with pytest.raises(UnsupportedFeatureError):
            await gw.stream(ask(stream=True, **fields))
    exc = caught.value
    assert (exc.provider, exc.feature, exc.status_code, exc.code) == (type_, feature, 400, "unsupported_feature")
    assert str(exc) == f"provider '{type_}' (model '{MODEL}') does not support {feature}"
    assert wire.seen == []
    assert wire.sim.requests == {}


async def test_capable_vendor_accepts_the_same_requests(wire: Wire) -> None:
    async with Gateway(parse_config(config("openai", f"{wire.sim.base_url}/v1"))) as gw:
        assert len((await gw.chat(ask(n=2))).choices) == 2
        assert "I see 1 image(s)" in (await gw.chat(ask(Message.user("look", PNG)))).text
    assert len(wire.seen) == 2


async def test_capability_override_disables_vision(wire: Wire) -> None:
    cfg = config("openai", f"{wire.sim.base_url}/v1", capabilities={"vision": False})
    async with Gateway(parse_config(cfg)) as gw:
        with pytest.raises(UnsupportedFeatureError, match=r"images \(vision\)"):
            await gw.chat(ask(Message.user("look", PNG)))
        assert (await gw.chat(ask())).text == f"{MODEL} says: hello"
    assert len(wire.seen) == 1


async def test_capability_override_enables_a_feature(wire: Wire) -> None:
    cfg = config("deepseek", f"{wire.sim.base_url}/v1", capabilities={"vision": True})
    async with Gateway(parse_config(cfg)) as gw:
        assert "I see 1 image(s)" in (await gw.chat(ask(Message.user("look", PNG)))).text


def test_unknown_capability_names_the_key() -> None:
    cfg = parse_config(config("openai", "https://example.test/v1", capabilities={"telepathy": True}))
    with pytest.raises(ConfigError) as caught:
        Gateway(cfg)
    assert caught.value.key == "models.m.capabilities"
    assert "telepathy" in str(caught.value)
    assert "vision" in str(caught.value)


# -- configuration mistakes ---------------------------------------------------------------------------------


def test_unknown_provider_type_lists_known_types() -> None:
    with pytest.raises(ConfigError) as caught:
        Gateway(parse_config(config("open-ai", "https://example.test/v1")))
    assert caught.value.key == "providers.open-ai.type"
    message = str(caught.value)
    assert message.startswith("providers.open-ai.type: unknown provider type 'open-ai'")
    for known in PRESETS:
        assert known in message


@pytest.mark.parametrize("type_", ["azure", "azure_ai", "openai_compatible"])
def test_missing_base_url(type_: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Gateway(parse_config(config(type_, None)))
    assert caught.value.key == f"providers.{type_}.base_url"
    assert "needs a base_url" in str(caught.value)


def test_base_url_needs_a_scheme() -> None:
    with pytest.raises(ConfigError) as caught:
        Gateway(parse_config(config("vllm", "localhost:8000/v1")))
    assert caught.value.key == "providers.vllm.base_url"


# -- credentials from the environment ------------------------------------------------------------------------


async def test_api_key_from_vendor_env_var(wire: Wire, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-from-env")
    async with Gateway(parse_config(config("groq", f"{wire.sim.base_url}/v1", api_key=None))) as gw:
        await gw.chat(ask())
    assert wire.seen[0].headers["authorization"] == "Bearer gsk-from-env"


async def test_configured_key_wins_over_env(wire: Wire, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    async with Gateway(parse_config(config("openai", f"{wire.sim.base_url}/v1"))) as gw:
        await gw.chat(ask())
    assert wire.seen[0].headers["authorization"] == f"Bearer {KEY}"


async def test_no_key_anywhere_sends_no_auth(wire: Wire, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XAI_API_KEY", raising=False)
    async with Gateway(parse_config(config("xai", f"{wire.sim.base_url}/v1", api_key=None))) as gw:
        with pytest.raises(AuthenticationError, match="missing API key"):
            await gw.chat(ask())
    assert "authorization" not in wire.seen[0].headers


def test_openai_compatible_reads_no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    provider = ProviderConfig(type="openai_compatible", base_url="https://example.test/v1")
    adapter = build_adapter("c", provider, AiohttpTransport())
    assert "authorization" not in adapter.headers
