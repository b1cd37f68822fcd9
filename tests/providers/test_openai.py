"""The OpenAI Chat Completions adapter, driven through ``Gateway`` against a real simulator, plus unit tests of
the request body it builds."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from tests.conftest import SINGLE_SHOT, serve_routes

from switchyard import Gateway, parse_config
from switchyard.errors import (
    AllAttemptsFailedError,
    AuthenticationError,
    BadRequestError,
    ContextLengthExceededError,
    InvalidRequestError,
    MalformedResponseError,
    PermissionDeniedError,
    RateLimitedError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from switchyard.providers.base import Deployment, parse_retry_after
from switchyard.providers.registry import build_deployments
from switchyard.providers.transport import AiohttpTransport
from switchyard.simulator import Simulator
from switchyard.simulator.reply import estimate_tokens
from switchyard.types import (
    ChatChunk,
    ChatRequest,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    Usage,
)

KEY = "sk-test-SECRET123"
MODEL = "gpt-4o-mini"
WEATHER = Tool(
    name="get_weather",
    description="Weather for a city",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "units": {"type": "string", "enum": ["c", "f"]}},
        "required": ["city", "units"],
    },
)
TIME = Tool(name="get_time", parameters={"type": "object", "properties": {"zone": {"type": "string"}}})
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"


def config(base_url: str, api_key: str = KEY, **provider: Any) -> dict[str, Any]:
    return {
        "resilience": SINGLE_SHOT,
        "providers": {"openai": {"type": "openai", "api_key": api_key, "base_url": base_url, **provider}},
        "models": {"gpt": {"provider": "openai", "model": MODEL}},
    }


@pytest.fixture
async def gw(sim: Simulator) -> AsyncIterator[Gateway]:
    async with Gateway(parse_config(config(f"{sim.base_url}/v1"))) as gateway:
        yield gateway


def ask(*messages: Message, **fields: Any) -> ChatRequest:
    return ChatRequest(model="gpt", messages=list(messages) or [Message.user("hello")], **fields)


async def drain(stream: AsyncIterator[ChatChunk], into: list[ChatChunk]) -> None:
    """Read a stream to its end, keeping what arrived before any error."""
    async for chunk in stream:
        into.append(chunk)


async def collect(gw: Gateway, request: ChatRequest) -> list[ChatChunk]:
    request.stream = True
    return [chunk async for chunk in await gw.stream(request)]


# -- answers ------------------------------------------------------------------------------------------------


async def test_plain_chat(gw: Gateway, sim: Simulator) -> None:
    response = await gw.chat(ask())
    assert response.text == f"{MODEL} says: hello"
    assert response.message.role == "assistant"
    assert response.message.tool_calls == []
    assert response.choices[0].finish_reason == "stop"
    assert response.id.startswith("chatcmpl-sim")
    assert response.model == MODEL
    assert response.system_fingerprint == "fp_simulator"
    assert response.created > 0
    assert response.usage == Usage(input_tokens=estimate_tokens("hello"), output_tokens=estimate_tokens(response.text))
    assert response.meta is not None
    assert (response.meta.deployment, response.meta.provider, response.meta.route) == ("gpt", "openai", None)
    assert [(a.deployment, a.error) for a in response.meta.attempts] == [("gpt", None)]
    assert not response.meta.fallback_used
    assert sim.requests == {f"openai:{MODEL}": 1}


async def test_system_and_multi_turn(gw: Gateway) -> None:
    messages = [
        Message.system("Be brief."),
        Message.user("first question"),
        Message.assistant("first answer"),
        Message.user("second question"),
    ]
    response = await gw.chat(ask(*messages))
    assert response.text == f"{MODEL} says: second question"
    all_text = "\n".join(m.text for m in messages)
    assert response.usage is not None
    assert response.usage.input_tokens == estimate_tokens(all_text)


async def test_tool_call_is_parsed(gw: Gateway) -> None:
    response = await gw.chat(ask(Message.user("Weather in Oslo?"), tools=[WEATHER, TIME]))
    assert response.choices[0].finish_reason == "tool_calls"
    assert response.message.content == []
    [call] = response.message.tool_calls
    assert call.name == "get_weather"
    assert call.id.startswith("call_")
    assert orjson.loads(call.arguments) == {"city": "sample city", "units": "c"}


async def test_tool_choice_forces_the_named_tool(gw: Gateway) -> None:
    response = await gw.chat(ask(tools=[WEATHER, TIME], tool_choice=ToolChoice("tool", "get_time")))
    assert [c.name for c in response.message.tool_calls] == ["get_time"]
    assert orjson.loads(response.message.tool_calls[0].arguments) == {"zone": "sample zone"}


async def test_tool_choice_none_answers_in_text(gw: Gateway) -> None:
    response = await gw.chat(ask(tools=[WEATHER], tool_choice=ToolChoice("none")))
    assert response.message.tool_calls == []
    assert response.text == f"{MODEL} says: hello"


async def test_tool_result_round_trip(gw: Gateway) -> None:
    question = Message.user("Weather in Oslo?")
    first = await gw.chat(ask(question, tools=[WEATHER]))
    call = first.message.tool_calls[0]
    assistant = Message(role="assistant", tool_calls=[call])
    result = Message(role="tool", tool_call_id=call.id, content=[TextPart("sunny, 21 C")])
    second = await gw.chat(ask(question, assistant, result, tools=[WEATHER]))
    assert second.text == "The tool returned: sunny, 21 C"
    assert second.choices[0].finish_reason == "stop"
    assert second.message.tool_calls == []


async def test_images_by_data_uri_and_url(gw: Gateway) -> None:
    request = ask(Message.user("what are these?", PNG, "https://example.com/cat.png"))
    response = await gw.chat(request)
    assert response.text == f"{MODEL} says: what are these? I see 2 image(s)."
    assert response.usage is not None
    assert response.usage.input_tokens == estimate_tokens("what are these?") + 2 * 85


async def test_malformed_data_uri_is_rejected_before_sending(gw: Gateway, sim: Simulator) -> None:
    with pytest.raises(InvalidRequestError, match="data URI"):
        await gw.chat(ask(Message.user("look", "data:image/png,not-base64")))
    assert sim.requests == {}


async def test_json_object(gw: Gateway) -> None:
    response = await gw.chat(ask(Message.user("give me json"), response_format=ResponseFormat(type="json_object")))
    assert orjson.loads(response.text) == {"answer": "give me json"}


async def test_json_schema(gw: Gateway) -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "address": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        "required": ["name", "age", "tags", "address"],
        "additionalProperties": False,
    }
    fmt = ResponseFormat(type="json_schema", name="person", schema=schema, strict=True)
    response = await gw.chat(ask(response_format=fmt))
    data = orjson.loads(response.text)
    assert set(data) == set(schema["properties"])
    assert isinstance(data["name"], str)
    assert isinstance(data["age"], int)
    assert all(isinstance(tag, str) for tag in data["tags"])
    assert set(data["address"]) == {"city"}


async def test_n_gives_that_many_choices(gw: Gateway) -> None:
    response = await gw.chat(ask(n=2))
    assert [c.index for c in response.choices] == [0, 1]
    assert [c.message.text for c in response.choices] == [f"{MODEL} says: hello"] * 2
    assert [c.finish_reason for c in response.choices] == ["stop", "stop"]


async def test_stop_sequences_cut_the_text(gw: Gateway) -> None:
    response = await gw.chat(ask(Message.user("hello world again"), stop=["world", "zzz"]))
    assert response.text == f"{MODEL} says: hello "
    assert response.choices[0].finish_reason == "stop"


async def test_max_tokens_truncates_with_finish_length(gw: Gateway) -> None:
    response = await gw.chat(ask(Message.user("a rather long question that will not fit"), max_tokens=3))
    assert response.choices[0].finish_reason == "length"
    assert f"{MODEL} says: a rather long".startswith(response.text)
    assert len(response.text) <= 3 * 4


# -- streaming ----------------------------------------------------------------------------------------------


async def test_stream_text_matches_the_complete_answer(gw: Gateway) -> None:
    question = Message.user("tell me a story about a cat and a dog")
    complete = await gw.chat(ask(question))
    chunks = await collect(gw, ask(question))
    assert len([c for c in chunks if c.text]) > 1, "the answer should arrive in several deltas"
    assert "".join(c.text or "" for c in chunks) == complete.text
    assert chunks[0].role == "assistant"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert all(c.id == chunks[0].id and c.model == MODEL for c in chunks)


async def test_stream_has_usage_even_when_the_client_did_not_ask(gw: Gateway) -> None:
    question = Message.user("count my tokens please")
    complete = await gw.chat(ask(question))
    request = ask(question)
    assert request.include_usage is False
    chunks = await collect(gw, request)
    last = chunks[-1]
    assert last.usage == complete.usage
    assert (last.text, last.tool_calls, last.finish_reason) == (None, [], None)
    assert [c for c in chunks if c.usage is not None] == [last]


async def test_stream_meta(gw: Gateway) -> None:
    stream = await gw.stream(ask(stream=True))
    async for _ in stream:
        pass
    assert (stream.meta.deployment, stream.meta.provider) == ("gpt", "openai")


async def test_stream_tool_call_deltas_reassemble(gw: Gateway) -> None:
    complete = await gw.chat(ask(tools=[WEATHER]))
    chunks = await collect(gw, ask(tools=[WEATHER]))
    deltas = [d for c in chunks for d in c.tool_calls]
    assert len(deltas) >= 3, "head plus argument fragments"
    assert {d.index for d in deltas} == {0}
    [call_id] = [d.id for d in deltas if d.id]
    assert call_id.startswith("call_")
    assert [d.name for d in deltas if d.name] == ["get_weather"]
    arguments = "".join(d.arguments for d in deltas)
    assert orjson.loads(arguments) == orjson.loads(complete.message.tool_calls[0].arguments)
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["tool_calls"]


async def test_stream_with_n_keeps_choices_apart(gw: Gateway) -> None:
    chunks = await collect(gw, ask(Message.user("one two three four five six"), n=2))
    for index in (0, 1):
        text = "".join(c.text or "" for c in chunks if c.index == index and c.usage is None)
        assert text == f"{MODEL} says: one two three four five six"


async def test_stream_closed_early_releases_cleanly(gw: Gateway, sim: Simulator) -> None:
    stream = await gw.stream(ask(Message.user("a long enough answer to need many chunks"), stream=True))
    await stream.__anext__()
    await stream.aclose()
    # The gateway is still usable afterwards.
    assert (await gw.chat(ask())).text == f"{MODEL} says: hello"


# -- request body translation (no network) ------------------------------------------------------------------


def deployment(provider: dict[str, Any], **model: Any) -> Deployment:
    cfg = parse_config({"providers": {"p": provider}, "models": {"m": {"provider": "p", "model": MODEL, **model}}})
    # The transport opens its session lazily, on the first send; nothing is sent here.
    return build_deployments(cfg, AiohttpTransport())["m"]


def body(dep: Deployment, request: ChatRequest, *, stream: bool = False) -> dict[str, Any]:
    upstream = dep.adapter._build_request(request, dep, stream=stream)
    assert upstream.body is not None
    data: dict[str, Any] = orjson.loads(upstream.body)
    return data


OPENAI = {"type": "openai", "api_key": KEY, "base_url": "http://upstream.test/v1"}


def test_request_line_and_headers() -> None:
    dep = deployment(OPENAI)
    upstream = dep.adapter._build_request(ask(), dep, stream=False)
    assert upstream.method == "POST"
    assert upstream.url == "http://upstream.test/v1/chat/completions"
    assert upstream.headers["authorization"] == f"Bearer {KEY}"
    assert upstream.headers["content-type"] == "application/json"
    assert upstream.timeout == dep.timeout


def test_minimal_body() -> None:
    assert body(deployment(OPENAI), ask()) == {"model": MODEL, "messages": [{"role": "user", "content": "hello"}]}


def test_max_tokens_field_per_vendor() -> None:
    openai_body = body(deployment(OPENAI), ask(max_tokens=50))
    assert openai_body["max_completion_tokens"] == 50
    assert "max_tokens" not in openai_body
    groq_body = body(deployment({**OPENAI, "type": "groq"}), ask(max_tokens=50))
    assert groq_body["max_tokens"] == 50
    assert "max_completion_tokens" not in groq_body


def test_sampling_fields_pass_through_and_unset_ones_are_omitted() -> None:
    data = body(
        deployment(OPENAI),
        ask(temperature=0.2, top_p=0.9, seed=7, stop=["END"], presence_penalty=0.5, user="u-1", logprobs=True),
    )
    assert {k: data[k] for k in ("temperature", "top_p", "seed", "stop", "presence_penalty", "user", "logprobs")} == {
        "temperature": 0.2, "top_p": 0.9, "seed": 7, "stop": ["END"], "presence_penalty": 0.5, "user": "u-1",
        "logprobs": True,
    }
    assert "frequency_penalty" not in data
    assert "n" not in data
    assert "stream" not in data


def test_extra_passes_through_verbatim() -> None:
    extra = {"reasoning_effort": "low", "metadata": {"team": "a", "nested": [1, 2]}, "service_tier": "flex"}
    data = body(deployment(OPENAI), ask(extra=extra))
    assert {k: data[k] for k in extra} == extra


def test_stream_always_asks_for_usage() -> None:
    data = body(deployment(OPENAI), ask(), stream=True)
    assert data["stream"] is True
    assert data["stream_options"] == {"include_usage": True}


def test_stream_usage_not_asked_where_unsupported() -> None:
    data = body(deployment(OPENAI, capabilities={"stream_usage": False}), ask(), stream=True)
    assert data["stream"] is True
    assert "stream_options" not in data


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        (ToolChoice("auto"), "auto"),
        (ToolChoice("none"), "none"),
        (ToolChoice("required"), "required"),
        (ToolChoice("tool", "get_weather"), {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
def test_tool_choice_shapes(choice: ToolChoice, wire: Any) -> None:
    assert body(deployment(OPENAI), ask(tools=[WEATHER], tool_choice=choice))["tool_choice"] == wire


def test_tools_shape() -> None:
    strict = Tool(name="lookup", parameters={"type": "object", "properties": {}}, strict=True)
    data = body(deployment(OPENAI), ask(tools=[WEATHER, strict], parallel_tool_calls=False))
    assert data["tools"] == [
        {
            "type": "function",
            "function": {"name": "get_weather", "parameters": WEATHER.parameters, "description": "Weather for a city"},
        },
        {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}},
                                          "strict": True}},
    ]
    assert data["parallel_tool_calls"] is False


@pytest.mark.parametrize(
    ("fmt", "wire"),
    [
        (ResponseFormat(type="text"), {"type": "text"}),
        (ResponseFormat(type="json_object"), {"type": "json_object"}),
        (
            ResponseFormat(type="json_schema", schema={"type": "object"}),
            {"type": "json_schema", "json_schema": {"name": "response", "schema": {"type": "object"}}},
        ),
        (
            ResponseFormat(type="json_schema", name="p", schema={"type": "object"}, strict=True, description="d"),
            {
                "type": "json_schema",
                "json_schema": {"name": "p", "schema": {"type": "object"}, "strict": True, "description": "d"},
            },
        ),
    ],
    ids=["text", "json_object", "json_schema-minimal", "json_schema-full"],
)
def test_response_format_shapes(fmt: ResponseFormat, wire: dict[str, Any]) -> None:
    assert body(deployment(OPENAI), ask(response_format=fmt))["response_format"] == wire


def test_message_shapes() -> None:
    call = ToolCall(id="call_1", name="get_weather", arguments='{"city":"Oslo"}')
    messages = [
        Message.system("sys"),
        Message(role="user", content=[TextPart("look"), ImagePart(PNG, detail="low")], name="alice"),
        Message(role="assistant", tool_calls=[call]),
        Message(role="tool", tool_call_id="call_1", content=[TextPart("sunny")]),
        Message.assistant("done"),
    ]
    assert body(deployment(OPENAI), ask(*messages))["messages"] == [
        {"role": "system", "content": "sys"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
            ],
            "name": "alice",
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "content": "sunny", "tool_call_id": "call_1"},
        {"role": "assistant", "content": "done"},
    ]


# -- errors -------------------------------------------------------------------------------------------------


async def test_invalid_key_is_authentication_error(sim: Simulator) -> None:
    async with Gateway(parse_config(config(f"{sim.base_url}/v1", api_key="invalid"))) as gw:
        with pytest.raises(AuthenticationError) as caught:
            await gw.chat(ask())
    exc = caught.value
    assert (exc.retryable, exc.fallback) == (False, True)
    assert (exc.upstream_status, exc.status_code, exc.code) == (401, 401, "invalid_api_key")
    assert (exc.provider, exc.deployment) == ("openai", "gpt")
    assert str(exc) == "[gpt] invalid API key"


async def test_rate_limit_carries_retry_after(gw: Gateway, sim: Simulator) -> None:
    sim.set_faults("openai", {"rate_limit_rate": 1.0, "retry_after_s": 7})
    with pytest.raises(RateLimitedError) as caught:
        await gw.chat(ask())
    exc = caught.value
    assert exc.retry_after == 7
    assert (exc.retryable, exc.fallback, exc.upstream_status) == (True, True, 429)
    assert exc.code == "rate_limit_exceeded"


async def test_rate_limit_on_stream_open(gw: Gateway, sim: Simulator) -> None:
    sim.set_faults("openai", {"rate_limit_rate": 1.0, "retry_after_s": 2.5})
    with pytest.raises(RateLimitedError) as caught:
        await gw.stream(ask(stream=True))
    assert caught.value.retry_after == 2.5


@pytest.mark.parametrize(
    ("status", "kind"),
    [(500, UpstreamUnavailableError), (502, UpstreamUnavailableError), (503, UpstreamUnavailableError),
     (504, UpstreamTimeoutError)],
)
async def test_server_errors(gw: Gateway, sim: Simulator, status: int, kind: type[UpstreamError]) -> None:
    sim.set_faults("openai", {"error_rate": 1.0, "error_status": status})
    with pytest.raises(kind) as caught:
        await gw.chat(ask())
    exc = caught.value
    assert type(exc) is kind
    assert (exc.retryable, exc.fallback, exc.upstream_status) == (True, True, status)
    assert exc.message == f"simulated upstream error ({status})"


async def test_context_length(gw: Gateway, sim: Simulator) -> None:
    sim.set_faults("openai", {"context_window": 5})
    with pytest.raises(ContextLengthExceededError) as caught:
        await gw.chat(ask(Message.user("this prompt is comfortably longer than five tokens")))
    exc = caught.value
    assert isinstance(exc, BadRequestError)
    assert (exc.retryable, exc.fallback, exc.upstream_status) == (False, True, 400)
    assert exc.code == "context_length_exceeded"
    assert "maximum context length is 5 tokens" in exc.message
    # A prompt that fits still answers.
    assert (await gw.chat(ask(Message.user("hi")))).text == f"{MODEL} says: hi"


async def test_bad_request_is_not_for_fallback(gw: Gateway) -> None:
    # The simulator rejects an unknown content part; nothing else could do better with the same request.
    with pytest.raises(BadRequestError) as caught:
        await gw.chat(ask(extra={"messages": [{"role": "user", "content": [{"type": "audio"}]}]}))
    assert type(caught.value) is BadRequestError
    assert (caught.value.fallback, caught.value.upstream_status) == (False, 400)


async def test_garbled_body_is_malformed_response(gw: Gateway, sim: Simulator) -> None:
    sim.set_faults("openai", {"garbled_rate": 1.0})
    with pytest.raises(MalformedResponseError) as caught:
        await gw.chat(ask())
    assert (caught.value.retryable, caught.value.fallback, caught.value.deployment) == (True, True, "gpt")


async def test_garbled_stream_is_malformed_response(gw: Gateway, sim: Simulator) -> None:
    sim.set_faults("openai", {"garbled_rate": 1.0})
    stream = await gw.stream(ask(stream=True))
    received: list[ChatChunk] = []
    with pytest.raises(MalformedResponseError) as caught:
        await drain(stream, received)
    assert received, "the frame before the garbled one is delivered"
    assert caught.value.deployment == "gpt"


async def test_cut_stream_is_unavailable_after_some_chunks(gw: Gateway, sim: Simulator) -> None:
    sim.set_faults("openai", {"cut_stream_rate": 1.0, "cut_after_chunks": 3})
    stream = await gw.stream(ask(Message.user("one two three four five six seven eight nine ten"), stream=True))
    received: list[ChatChunk] = []
    with pytest.raises(UpstreamUnavailableError) as caught:
        await drain(stream, received)
    assert len(received) == 3
    assert not any(c.finish_reason for c in received)
    assert (caught.value.provider, caught.value.deployment) == ("openai", "gpt")


async def test_hang_times_out(sim: Simulator) -> None:
    cfg = config(f"{sim.base_url}/v1", timeout={"read": 0.2}, headers={"x-sim-fault": "hang"})
    async with Gateway(parse_config(cfg)) as gw:
        with pytest.raises(UpstreamTimeoutError) as caught:
            await gw.chat(ask())
        assert (caught.value.retryable, caught.value.fallback, caught.value.deployment) == (True, True, "gpt")
        with pytest.raises(UpstreamTimeoutError):
            await gw.stream(ask(stream=True))


async def test_slow_stream_times_out_between_chunks(sim: Simulator) -> None:
    sim.set_faults("openai", {"chunk_delay": {"dist": "fixed", "ms": 5000}})
    async with Gateway(parse_config(config(f"{sim.base_url}/v1", timeout={"read": 0.2}))) as gw:
        stream = await gw.stream(ask(Message.user("one two three four five six seven"), stream=True))
        received: list[ChatChunk] = []
        with pytest.raises(UpstreamTimeoutError) as caught:
            await drain(stream, received)
    assert received
    assert caught.value.deployment == "gpt"


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_connection_refused_is_unavailable() -> None:
    async with Gateway(parse_config(config(f"http://127.0.0.1:{unused_port()}/v1"))) as gw:
        with pytest.raises(UpstreamUnavailableError) as caught:
            await gw.chat(ask())
        with pytest.raises(UpstreamUnavailableError):
            await gw.stream(ask(stream=True))
    exc = caught.value
    assert (exc.retryable, exc.fallback, exc.upstream_status) == (True, True, None)
    assert (exc.provider, exc.deployment) == ("openai", "gpt")
    assert "cannot connect" in exc.message


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


@pytest.mark.parametrize(
    ("faults", "provider", "kind"),
    [
        ({}, {"headers": {"x-sim-fault": "auth"}}, AuthenticationError),
        ({"rate_limit_rate": 1.0}, {}, RateLimitedError),
        ({"error_rate": 1.0}, {}, UpstreamUnavailableError),
        ({"context_window": 1}, {}, ContextLengthExceededError),
        ({"garbled_rate": 1.0}, {}, MalformedResponseError),
        ({}, {"timeout": {"read": 0.2}, "headers": {"x-sim-fault": "hang"}}, UpstreamTimeoutError),
        (None, {}, UpstreamUnavailableError),  # None: no simulator behind the URL, the connection is refused
    ],
    ids=["auth", "rate-limit", "server", "context", "garbled", "timeout", "refused"],
)
async def test_api_key_never_appears_in_errors(
    sim: Simulator, faults: dict[str, Any] | None, provider: dict[str, Any], kind: type[UpstreamError]
) -> None:
    base_url = f"{sim.base_url}/v1" if faults is not None else f"http://127.0.0.1:{unused_port()}/v1"
    if faults:
        sim.set_faults("openai", faults)
    cfg = parse_config(config(base_url, **provider))
    async with Gateway(cfg) as gw:
        with pytest.raises(kind) as caught:
            await gw.chat(ask(Message.user("a prompt long enough to exceed a tiny context window")))
        for exc in _chain(caught.value):
            assert KEY not in str(exc)
            assert KEY not in repr(exc)
            assert KEY not in repr(exc.args)
        assert KEY not in repr(cfg)
        assert KEY not in str(cfg.providers["openai"])
        assert KEY not in repr(gw.deployments)


async def test_api_key_never_appears_when_every_attempt_fails(sim: Simulator) -> None:
    sim.set_faults("openai", {"error_rate": 1.0})
    cfg = config(f"{sim.base_url}/v1")
    cfg["providers"]["down"] = {"type": "openai", "api_key": KEY, "base_url": f"http://127.0.0.1:{unused_port()}/v1"}
    cfg["models"]["dead"] = {"provider": "down", "model": MODEL}
    cfg["routes"] = {"both": {"targets": ["dead", "gpt"]}}
    cfg["resilience"] = {**SINGLE_SHOT, "retry": {"max_attempts": 2}}
    async with Gateway(parse_config(cfg)) as gw:
        with pytest.raises(AllAttemptsFailedError) as caught:
            await gw.chat(ChatRequest(model="both", messages=[Message.user("hello")]))
    assert [type(e) for e in caught.value.errors] == [UpstreamUnavailableError, UpstreamUnavailableError]
    for exc in [caught.value, *caught.value.errors]:
        assert KEY not in str(exc)
        assert KEY not in repr(exc)


# -- upstream answers the simulator does not produce (a tiny aiohttp server) ---------------------------------


def _sse(*events: Any) -> bytes:
    return b"".join(b"data: " + (e if isinstance(e, bytes) else orjson.dumps(e)) + b"\n\n" for e in events)


_CHUNK = {"id": "c1", "model": MODEL, "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}
_ODD: dict[str, tuple[int, dict[str, str], bytes]] = {
    "bad-retry-after": (429, {"retry-after": "soon"}, b'{"error": {"message": "slow down"}}'),
    "retry-after-ms": (429, {"retry-after-ms": "1500", "retry-after": "9"}, b"{}"),
    "retry-after-date": (429, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, b"{}"),
    "html-502": (502, {"content-type": "text/html"}, b"<html><body>Bad Gateway</body></html>"),
    "empty-403": (403, {}, b""),
    "string-error": (400, {}, b'{"error": "plain words"}'),
    "no-choices": (200, {}, b'{"id": "x", "object": "chat.completion"}'),
    "refusal": (200, {}, orjson.dumps({"id": "r", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": None, "refusal": "I can't help with that."},
         "finish_reason": "stop"}]})),
    "unknown-finish": (200, {}, orjson.dumps({"id": "u", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "eos_token"}]})),
    "stream-no-done": (200, {"content-type": "text/event-stream"}, _sse(_CHUNK)),
    "stream-error-event": (200, {"content-type": "text/event-stream"}, _sse(_CHUNK, {"error": {
        "message": "too long", "code": "context_length_exceeded"}})),
    "stream-refusal": (200, {"content-type": "text/event-stream"}, _sse(
        {"id": "s", "choices": [{"index": 0, "delta": {"refusal": "No."}, "finish_reason": "stop"}]}, b"[DONE]")),
}


@pytest.fixture
async def odd() -> AsyncIterator[str]:
    async def answer(request: web.Request) -> web.Response:
        status, headers, payload = _ODD[request.match_info["case"]]
        return web.Response(status=status, headers=headers, body=payload)

    async with serve_routes(web.post("/{case}/chat/completions", answer)) as url:
        yield url


async def odd_chat(base: str, case: str, *, stream: bool = False) -> Any:
    async with Gateway(parse_config(config(f"{base}/{case}"))) as gw:
        if not stream:
            return await gw.chat(ask())
        return [chunk async for chunk in await gw.stream(ask(stream=True))]


async def test_unparseable_retry_after_is_still_a_rate_limit(odd: str) -> None:
    with pytest.raises(RateLimitedError) as caught:
        await odd_chat(odd, "bad-retry-after")
    assert caught.value.retry_after is None
    assert caught.value.message == "slow down"


async def test_retry_after_ms_is_preferred(odd: str) -> None:
    with pytest.raises(RateLimitedError) as caught:
        await odd_chat(odd, "retry-after-ms")
    assert caught.value.retry_after == 1.5


async def test_retry_after_date_in_the_past_is_zero(odd: str) -> None:
    with pytest.raises(RateLimitedError) as caught:
        await odd_chat(odd, "retry-after-date")
    assert caught.value.retry_after == 0.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "Mon, 99 Foo 2015 99:99:99 GMT"}, None),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "junk", "retry-after": "2"}, 2.0),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


async def test_non_json_error_body(odd: str) -> None:
    with pytest.raises(UpstreamUnavailableError) as caught:
        await odd_chat(odd, "html-502")
    assert caught.value.upstream_status == 502
    assert "Bad Gateway" in caught.value.message


async def test_empty_error_body(odd: str) -> None:
    with pytest.raises(PermissionDeniedError) as caught:
        await odd_chat(odd, "empty-403")
    assert caught.value.message == "HTTP 403"


async def test_error_as_plain_string(odd: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        await odd_chat(odd, "string-error")
    assert caught.value.message == "plain words"


async def test_unexpected_shape_is_malformed(odd: str) -> None:
    with pytest.raises(MalformedResponseError, match="unexpected response shape"):
        await odd_chat(odd, "no-choices")


async def test_refusal_becomes_text(odd: str) -> None:
    response = await odd_chat(odd, "refusal")
    assert response.text == "I can't help with that."
    streamed = await odd_chat(odd, "stream-refusal", stream=True)
    assert "".join(c.text or "" for c in streamed) == "No."


async def test_unknown_finish_reason_is_stop(odd: str) -> None:
    assert (await odd_chat(odd, "unknown-finish")).choices[0].finish_reason == "stop"


async def test_stream_without_terminator_is_incomplete(odd: str) -> None:
    with pytest.raises(UpstreamUnavailableError, match="ended before it was complete"):
        await odd_chat(odd, "stream-no-done", stream=True)


async def test_error_event_in_stream_is_mapped(odd: str) -> None:
    with pytest.raises(ContextLengthExceededError) as caught:
        await odd_chat(odd, "stream-error-event", stream=True)
    assert (caught.value.code, caught.value.deployment) == ("context_length_exceeded", "gpt")
