"""The Anthropic adapter, driven through ``Gateway`` against the real simulator (which checks requests the way the
Messages API does), against a tiny server for answers the simulator does not produce, and unit tests of the
request body it builds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from tests.conftest import SINGLE_SHOT, serve_routes

from switchyard import Gateway, parse_config
from switchyard.errors import (
    AuthenticationError,
    BadRequestError,
    ContextLengthExceededError,
    InvalidRequestError,
    MalformedResponseError,
    RateLimitedError,
    UnsupportedFeatureError,
    UpstreamError,
    UpstreamUnavailableError,
)
from switchyard.providers.anthropic import DEFAULT_MAX_TOKENS, JSON_TOOL
from switchyard.providers.base import Deployment
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

KEY = "ant-test-SECRET123"
MODEL = "claude-sonnet-4-6"
WEATHER = Tool(
    name="get_weather",
    description="Weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TIME = Tool(name="get_time", parameters={"type": "object", "properties": {"zone": {"type": "string"}}})
PNG_DATA = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
PNG = f"data:image/png;base64,{PNG_DATA}"


def config(base_url: str, api_key: str | None = KEY, **provider: Any) -> dict[str, Any]:
    anthropic: dict[str, Any] = {"type": "anthropic", "base_url": base_url, **provider}
    if api_key is not None:
        anthropic["api_key"] = api_key
    return {
        "resilience": SINGLE_SHOT,
        "providers": {"anthropic": anthropic},
        "models": {"claude": {"provider": "anthropic", "model": MODEL}},
    }


@pytest.fixture
async def gw(sim: Simulator) -> AsyncIterator[Gateway]:
    async with Gateway(parse_config(config(sim.base_url))) as gateway:
        yield gateway


def ask(*messages: Message, **fields: Any) -> ChatRequest:
    return ChatRequest(model="claude", messages=list(messages) or [Message.user("hello")], **fields)


async def collect(gw: Gateway, request: ChatRequest) -> list[ChatChunk]:
    request.stream = True
    return [chunk async for chunk in await gw.stream(request)]


async def drain(gw: Gateway, request: ChatRequest, into: list[ChatChunk]) -> None:
    """Read a stream to its end, keeping what arrived before any error."""
    request.stream = True
    async for chunk in await gw.stream(request):
        into.append(chunk)


# -- answers ------------------------------------------------------------------------------------------------


async def test_plain_chat(gw: Gateway, sim: Simulator) -> None:
    response = await gw.chat(ask())
    assert response.text == f"{MODEL} says: hello"
    assert response.message.tool_calls == []
    assert response.choices[0].finish_reason == "stop"
    assert response.id.startswith("msg_")
    assert response.model == MODEL
    assert response.usage == Usage(input_tokens=estimate_tokens("hello"), output_tokens=estimate_tokens(response.text))
    assert response.meta is not None
    assert (response.meta.deployment, response.meta.provider) == ("claude", "anthropic")
    assert sim.requests == {f"anthropic:{MODEL}": 1}


async def test_system_and_multi_turn(gw: Gateway) -> None:
    messages = [
        Message.system("Be brief."),
        Message.user("first question"),
        Message.assistant("first answer"),
        Message.user("second question"),
    ]
    response = await gw.chat(ask(*messages))
    assert response.text == f"{MODEL} says: second question"
    assert response.usage is not None
    assert response.usage.input_tokens == estimate_tokens("\n".join(m.text for m in messages))


async def test_tool_call_is_parsed(gw: Gateway) -> None:
    response = await gw.chat(ask(Message.user("Weather in Oslo?"), tools=[WEATHER, TIME]))
    assert response.choices[0].finish_reason == "tool_calls"
    assert response.message.content == []
    [call] = response.message.tool_calls
    assert call.name == "get_weather"
    assert call.id.startswith("toolu_")
    assert orjson.loads(call.arguments) == {"city": "sample city"}


async def test_tool_choice(gw: Gateway) -> None:
    forced = await gw.chat(ask(tools=[WEATHER, TIME], tool_choice=ToolChoice("tool", "get_time")))
    assert [c.name for c in forced.message.tool_calls] == ["get_time"]
    required = await gw.chat(ask(tools=[WEATHER, TIME], tool_choice=ToolChoice("required")))
    assert [c.name for c in required.message.tool_calls] == ["get_weather"]
    none = await gw.chat(ask(tools=[WEATHER], tool_choice=ToolChoice("none")))
    assert (none.message.tool_calls, none.text) == ([], f"{MODEL} says: hello")


async def test_tool_result_round_trip(gw: Gateway) -> None:
    question = Message.user("Weather in Oslo?")
    first = await gw.chat(ask(question, tools=[WEATHER]))
    call = first.message.tool_calls[0]
    result = Message(role="tool", tool_call_id=call.id, content=[TextPart("sunny, 21 C")])
    second = await gw.chat(ask(question, Message(role="assistant", tool_calls=[call]), result, tools=[WEATHER]))
    assert second.text == "The tool returned: sunny, 21 C"
    assert second.choices[0].finish_reason == "stop"


async def test_parallel_tool_results_share_one_turn(gw: Gateway) -> None:
    # The simulator, like the Messages API, insists every tool_use is answered in the very next user turn.
    calls = [ToolCall("toolu_a", "get_weather", '{"city": "Oslo"}'), ToolCall("toolu_b", "get_time", "{}")]
    messages = [
        Message.user("Weather and time in Oslo?"),
        Message(role="assistant", tool_calls=calls),
        Message(role="tool", tool_call_id="toolu_a", content=[TextPart("sunny")]),
        Message(role="tool", tool_call_id="toolu_b", content=[TextPart('{"time": "12:00"}')]),
    ]
    response = await gw.chat(ask(*messages, tools=[WEATHER, TIME]))
    assert response.text.startswith("The tool returned: sunny")
    assert response.choices[0].finish_reason == "stop"


async def test_images_by_data_uri_and_url(gw: Gateway) -> None:
    response = await gw.chat(ask(Message.user("what are these?", PNG, "https://example.com/cat.png")))
    assert response.text == f"{MODEL} says: what are these? I see 2 image(s)."
    assert response.usage is not None
    assert response.usage.input_tokens == estimate_tokens("what are these?") + 2 * 85


async def test_json_schema_and_json_object_come_back_as_text(gw: Gateway) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
              "required": ["name", "population"]}
    fmt = ResponseFormat(type="json_schema", name="city", schema=schema)
    response = await gw.chat(ask(Message.user("Paris as JSON"), response_format=fmt))
    assert orjson.loads(response.text) == {"name": "sample name", "population": 42}
    assert (response.message.tool_calls, response.choices[0].finish_reason) == ([], "stop")
    loose = await gw.chat(ask(response_format=ResponseFormat(type="json_object")))
    assert isinstance(orjson.loads(loose.text), dict)
    assert loose.message.tool_calls == []


async def test_json_schema_streams_as_text(gw: Gateway) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    fmt = ResponseFormat(type="json_schema", name="n", schema=schema)
    chunks = await collect(gw, ask(response_format=fmt))
    assert orjson.loads("".join(c.text or "" for c in chunks)) == {"name": "sample name"}
    assert not any(c.tool_calls for c in chunks)
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]


async def test_stop_and_max_tokens(gw: Gateway) -> None:
    cut = await gw.chat(ask(Message.user("hello world again"), stop=["world"]))
    assert (cut.text, cut.choices[0].finish_reason) == (f"{MODEL} says: hello ", "stop")
    short = await gw.chat(ask(Message.user("a rather long question that will not fit"), max_tokens=3))
    assert short.choices[0].finish_reason == "length"
    assert f"{MODEL} says: a rather long".startswith(short.text)


async def test_extra_fields_pass_through(gw: Gateway) -> None:
    response = await gw.chat(ask(extra={"top_k": 5}))
    assert response.text == f"{MODEL} says: hello"
    # The simulator, like the API, rejects fields it does not know: the adapter sent ``extra`` verbatim.
    with pytest.raises(BadRequestError) as caught:
        await gw.chat(ask(extra={"not_a_field": 1}))
    assert type(caught.value) is BadRequestError
    assert "not_a_field" in caught.value.message


@pytest.mark.parametrize(
    "request_fields",
    [
        {"logit_bias": {"42": 1.0}},
        {"n": 2},
        {"seed": 7},
        {"presence_penalty": 0.5},
        {"logprobs": True},
        {"messages": [Message(role="user", content=[TextPart("hi")], name="alice")]},
    ],
    ids=["logit_bias", "n", "seed", "penalties", "logprobs", "message-name"],
)
async def test_unsupported_features_are_rejected_before_sending(
    gw: Gateway, sim: Simulator, request_fields: dict[str, Any]
) -> None:
    with pytest.raises(UnsupportedFeatureError) as caught:
        await gw.chat(ChatRequest(model="claude", **{"messages": [Message.user("hi")], **request_fields}))
    assert caught.value.status_code == 400
    assert "provider 'anthropic'" in caught.value.message
    assert sim.requests == {}


async def test_invalid_tool_arguments_are_rejected_before_sending(gw: Gateway, sim: Simulator) -> None:
    broken = Message(role="assistant", tool_calls=[ToolCall("toolu_x", "get_weather", "{not json")])
    with pytest.raises(InvalidRequestError, match="toolu_x"):
        await gw.chat(ask(Message.user("hi"), broken, tools=[WEATHER]))
    assert sim.requests == {}


# -- streaming ----------------------------------------------------------------------------------------------


async def test_stream_text_and_usage(gw: Gateway) -> None:
    question = Message.user("tell me a story about a cat and a dog")
    complete = await gw.chat(ask(question))
    chunks = await collect(gw, ask(question))
    assert len([c for c in chunks if c.text]) > 1, "the answer should arrive in several deltas"
    assert "".join(c.text or "" for c in chunks) == complete.text
    assert [c.role for c in chunks] == ["assistant"] + [None] * (len(chunks) - 1)
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    last = chunks[-1]
    assert (last.usage, last.text, last.finish_reason) == (complete.usage, None, None)
    assert [c for c in chunks if c.usage is not None] == [last]
    assert all(c.id == chunks[0].id and c.model == MODEL for c in chunks)


async def test_stream_tool_call_in_fragments(gw: Gateway) -> None:
    complete = await gw.chat(ask(tools=[WEATHER]))
    chunks = await collect(gw, ask(tools=[WEATHER]))
    deltas = [d for c in chunks for d in c.tool_calls]
    assert len(deltas) > 1, "arguments arrive as input_json_delta fragments"
    head = deltas[0]
    assert (head.index, head.name, head.arguments) == (0, "get_weather", "")
    assert head.id is not None
    assert head.id.startswith("toolu_")
    assert all(d.index == 0 and d.id is None and d.name is None for d in deltas[1:])
    arguments = "".join(d.arguments for d in deltas)
    assert orjson.loads(arguments) == orjson.loads(complete.message.tool_calls[0].arguments)
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["tool_calls"]
    assert chunks[-1].usage is not None


# -- errors -------------------------------------------------------------------------------------------------


async def test_invalid_key_is_authentication_error(sim: Simulator) -> None:
    async with Gateway(parse_config(config(sim.base_url, api_key="invalid"))) as gw:
        with pytest.raises(AuthenticationError) as caught:
            await gw.chat(ask())
    exc = caught.value
    assert (exc.upstream_status, exc.code, exc.retryable) == (401, "authentication_error", False)
    assert (exc.provider, exc.deployment) == ("anthropic", "claude")


async def test_rate_limit_carries_retry_after(gw: Gateway, sim: Simulator) -> None:
    sim.set_faults("anthropic", {"rate_limit_rate": 1.0, "retry_after_s": 7})
    with pytest.raises(RateLimitedError) as caught:
        await gw.chat(ask())
    exc = caught.value
    assert (exc.retry_after, exc.upstream_status, exc.code, exc.retryable) == (7, 429, "rate_limit_error", True)
    with pytest.raises(RateLimitedError):
        await gw.stream(ask(stream=True))


async def test_overloaded_529_is_unavailable(gw: Gateway, sim: Simulator) -> None:
    sim.set_faults("anthropic", {"overloaded_rate": 1.0})
    with pytest.raises(UpstreamUnavailableError) as caught:
        await gw.chat(ask())
    exc = caught.value
    assert (exc.upstream_status, exc.code, exc.retryable, exc.fallback) == (529, "overloaded_error", True, True)


async def test_context_length(gw: Gateway, sim: Simulator) -> None:
    sim.set_faults("anthropic", {"context_window": 10})
    with pytest.raises(ContextLengthExceededError) as caught:
        await gw.chat(ask(Message.user("this prompt is comfortably longer than the ten tokens allowed here")))
    exc = caught.value
    assert (exc.upstream_status, exc.fallback) == (400, True)
    assert "prompt is too long" in exc.message
    assert (await gw.chat(ask(Message.user("hi")))).text == f"{MODEL} says: hi"


async def test_refusal_is_content_filter_finish(sim: Simulator) -> None:
    cfg = config(sim.base_url, headers={"x-sim-fault": "content_filter"})
    async with Gateway(parse_config(cfg)) as gw:
        response = await gw.chat(ask())
        assert response.choices[0].finish_reason == "content_filter"
        chunks = await collect(gw, ask())
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["content_filter"]


async def test_cut_stream_is_unavailable(gw: Gateway, sim: Simulator) -> None:
    sim.set_faults("anthropic", {"cut_stream_rate": 1.0, "cut_after_chunks": 4})
    received: list[ChatChunk] = []
    with pytest.raises(UpstreamUnavailableError) as caught:
        await drain(gw, ask(Message.user("one two three four five six seven eight nine ten")), received)
    assert received, "what arrived before the cut is delivered"
    assert not any(c.finish_reason or c.usage for c in received)
    assert caught.value.deployment == "claude"


async def test_garbled_answers_are_malformed(gw: Gateway, sim: Simulator) -> None:
    sim.set_faults("anthropic", {"garbled_rate": 1.0})
    with pytest.raises(MalformedResponseError):
        await gw.chat(ask())
    with pytest.raises(MalformedResponseError) as caught:
        await drain(gw, ask(Message.user("one two three four five six seven eight")), [])
    assert caught.value.deployment == "claude"


@pytest.mark.parametrize("fault", ["auth", "rate_limit", "context_length", "garbled"])
async def test_api_key_never_appears_in_errors(sim: Simulator, fault: str) -> None:
    async with Gateway(parse_config(config(sim.base_url, headers={"x-sim-fault": fault}))) as gw:
        with pytest.raises(UpstreamError) as caught:
            await gw.chat(ask())
    exc: BaseException | None = caught.value
    while exc is not None:
        assert KEY not in str(exc)
        assert KEY not in repr(exc)
        exc = exc.__cause__ or exc.__context__


# -- upstream answers the simulator does not produce (a tiny aiohttp server) ---------------------------------


def _events(*events: dict[str, Any]) -> bytes:
    return b"".join(
        b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events
    )


def _message(*content: dict[str, Any], stop_reason: str = "end_turn", **usage: int) -> dict[str, Any]:
    return {"id": "msg_odd", "type": "message", "role": "assistant", "model": MODEL, "content": list(content),
            "stop_reason": stop_reason, "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5, **usage}}


_START = {"type": "message_start", "message": {**_message(stop_reason=""), "stop_reason": None,
                                               "usage": {"input_tokens": 10, "output_tokens": 1}}}
_SSE = {"content-type": "text/event-stream"}
_ODD: dict[str, tuple[int, dict[str, str], bytes]] = {
    "thinking-and-cache": (200, {}, orjson.dumps(_message(
        {"type": "thinking", "thinking": "let me think", "signature": "c2ln"},
        {"type": "text", "text": "42"},
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}},
        stop_reason="tool_use", cache_read_input_tokens=30, cache_creation_input_tokens=20,
    ))),
    "refusal": (200, {}, orjson.dumps(_message(stop_reason="refusal"))),
    "pause": (200, {}, orjson.dumps(_message({"type": "text", "text": "partial"}, stop_reason="pause_turn"))),
    "content-not-a-list": (200, {}, b'{"id": "msg_x", "content": 7}'),
    "overloaded": (529, {}, b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'),
    "too-long": (400, {}, orjson.dumps({"type": "error", "error": {
        "type": "invalid_request_error", "message": "prompt is too long: 210000 tokens > 200000 maximum"}})),
    "forbidden": (403, {}, b'{"type": "error", "error": {"type": "permission_error", "message": "no access"}}'),
    "html-502": (502, {}, b"<html>bad gateway</html>"),
    "stream-error": (200, _SSE, _events(
        _START,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )),
    "stream-thinking": (200, _SSE, _events(
        _START,
        {"type": "ping"},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "c2ln"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "answer"}},
        {"type": "content_block_stop", "index": 1},
        {"type": "brand_new_event", "whatever": True},
        {"type": "message_delta", "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
         "usage": {"output_tokens": 9, "input_tokens": 10, "cache_read_input_tokens": 4}},
        {"type": "message_stop"},
    )),
    "stream-no-stop": (200, _SSE, _events(
        _START,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
    )),
}


@pytest.fixture
async def odd() -> AsyncIterator[str]:
    async def answer(request: web.Request) -> web.Response:
        status, headers, payload = _ODD[request.match_info["case"]]
        return web.Response(status=status, headers=headers, body=payload)

    async with serve_routes(web.post("/{case}/v1/messages", answer)) as url:
        yield url


async def odd_chat(base: str, case: str, *, stream: bool = False) -> Any:
    async with Gateway(parse_config(config(f"{base}/{case}"))) as gw:
        if not stream:
            return await gw.chat(ask())
        return [chunk async for chunk in await gw.stream(ask(stream=True))]


async def test_thinking_is_skipped_and_cache_tokens_count_as_input(odd: str) -> None:
    response = await odd_chat(odd, "thinking-and-cache")
    assert response.text == "42"
    assert response.message.tool_calls == [ToolCall("toolu_1", "lookup", '{"q":"x"}')]
    assert response.choices[0].finish_reason == "tool_calls"
    assert response.usage == Usage(input_tokens=60, output_tokens=5, cached_tokens=30)


@pytest.mark.parametrize(("case", "finish"), [("refusal", "content_filter"), ("pause", "stop")])
async def test_finish_reasons(odd: str, case: str, finish: str) -> None:
    assert (await odd_chat(odd, case)).choices[0].finish_reason == finish


async def test_unusable_body_is_malformed(odd: str) -> None:
    with pytest.raises(MalformedResponseError):
        await odd_chat(odd, "content-not-a-list")


@pytest.mark.parametrize(
    ("case", "kind", "status"),
    [
        ("overloaded", UpstreamUnavailableError, 529),
        ("too-long", ContextLengthExceededError, 400),
        ("forbidden", UpstreamError, 403),
        ("html-502", UpstreamUnavailableError, 502),
    ],
)
async def test_error_bodies(odd: str, case: str, kind: type[UpstreamError], status: int) -> None:
    with pytest.raises(kind) as caught:
        await odd_chat(odd, case)
    assert caught.value.upstream_status == status
    assert caught.value.message


async def test_error_event_mid_stream(odd: str) -> None:
    with pytest.raises(UpstreamUnavailableError) as caught:
        await odd_chat(odd, "stream-error", stream=True)
    assert (caught.value.upstream_status, caught.value.code, caught.value.deployment) == (
        529, "overloaded_error", "claude"
    )


async def test_stream_skips_thinking_pings_and_unknown_events(odd: str) -> None:
    chunks = await odd_chat(odd, "stream-thinking", stream=True)
    assert "".join(c.text or "" for c in chunks) == "answer"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["length"]
    # message_delta's repeated input counts (with the cache read) supersede message_start's.
    assert chunks[-1].usage == Usage(input_tokens=14, output_tokens=9, cached_tokens=4)


async def test_stream_without_message_stop_is_incomplete(odd: str) -> None:
    with pytest.raises(UpstreamUnavailableError, match="ended before it was complete"):
        await odd_chat(odd, "stream-no-stop", stream=True)


# -- request body translation (no network) ------------------------------------------------------------------

ANTHROPIC = {"type": "anthropic", "api_key": KEY, "base_url": "http://upstream.test"}


def deployment(provider: dict[str, Any] = ANTHROPIC, **model: Any) -> Deployment:
    cfg = parse_config({"providers": {"p": provider}, "models": {"m": {"provider": "p", "model": MODEL, **model}}})
    # The transport opens its session lazily, on the first send; nothing is sent here.
    return build_deployments(cfg, AiohttpTransport())["m"]


def body(request: ChatRequest, dep: Deployment | None = None, *, stream: bool = False) -> dict[str, Any]:
    dep = dep or deployment()
    upstream = dep.adapter._build_request(request, dep, stream=stream)
    assert upstream.body is not None
    data: dict[str, Any] = orjson.loads(upstream.body)
    return data


def test_request_line_and_headers() -> None:
    dep = deployment()
    upstream = dep.adapter._build_request(ask(), dep, stream=False)
    assert (upstream.method, upstream.url) == ("POST", "http://upstream.test/v1/messages")
    assert upstream.headers["x-api-key"] == KEY
    assert upstream.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in upstream.headers
    pinned = deployment({**ANTHROPIC, "headers": {"anthropic-version": "2099-01-01", "anthropic-beta": "x"}})
    headers = pinned.adapter._build_request(ask(), pinned, stream=False).headers
    assert (headers["anthropic-version"], headers["anthropic-beta"]) == ("2099-01-01", "x")


def test_minimal_body_and_max_tokens_default() -> None:
    assert body(ask()) == {"model": MODEL, "max_tokens": DEFAULT_MAX_TOKENS,
                           "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]}
    assert body(ask(max_tokens=50))["max_tokens"] == 50
    assert body(ask(), deployment(max_output_tokens=64000))["max_tokens"] == 64000
    assert body(ask(), stream=True)["stream"] is True


def test_sampling_fields() -> None:
    data = body(ask(temperature=0.2, top_p=0.9, stop=["END"], user="u-1", extra={"top_k": 3}))
    assert {k: data[k] for k in ("temperature", "top_p", "stop_sequences", "metadata", "top_k")} == {
        "temperature": 0.2, "top_p": 0.9, "stop_sequences": ["END"], "metadata": {"user_id": "u-1"}, "top_k": 3,
    }


def test_message_shapes() -> None:
    calls = [ToolCall("c1", "get_weather", '{"city":"Oslo"}'), ToolCall("c2", "get_time", "")]
    messages = [
        Message.system("sys one"),
        Message(role="user", content=[TextPart("look"), ImagePart(PNG, detail="low"),
                                      ImagePart("https://x.test/a.webp")]),
        Message(role="assistant", content=[TextPart("checking")], tool_calls=calls),
        Message(role="tool", tool_call_id="c1", content=[TextPart('{"temp": 21}')]),
        Message(role="tool", tool_call_id="c2", content=[TextPart("boom")], is_error=True),
        Message.system("sys two"),
        Message(role="assistant", content=[TextPart("")]),
        Message.user("thanks"),
    ]
    data = body(ask(*messages))
    assert data["system"] == [{"type": "text", "text": "sys one"}, {"type": "text", "text": "sys two"}]
    assert data["messages"] == [
        {"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_DATA}},
            {"type": "image", "source": {"type": "url", "url": "https://x.test/a.webp"}},
        ]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "checking"},
            {"type": "tool_use", "id": "c1", "name": "get_weather", "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "c2", "name": "get_time", "input": {}},
        ]},
        # Both results, and the next user turn, merge into one user turn; the empty assistant turn is dropped.
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "c1", "content": '{"temp": 21}'},
            {"type": "tool_result", "tool_use_id": "c2", "content": "boom", "is_error": True},
            {"type": "text", "text": "thanks"},
        ]},
    ]


def test_tool_result_with_an_image_keeps_blocks() -> None:
    result = Message(role="tool", tool_call_id="c", content=[TextPart("chart:"), ImagePart(PNG)])
    [block] = body(ask(Message.user("q"), Message(role="assistant", tool_calls=[ToolCall("c", "f", "{}")]), result))[
        "messages"][-1]["content"]
    assert block == {"type": "tool_result", "tool_use_id": "c", "content": [
        {"type": "text", "text": "chart:"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_DATA}},
    ]}


def test_tool_message_without_call_id_is_rejected() -> None:
    with pytest.raises(InvalidRequestError, match="tool_call_id"):
        body(ask(Message.user("q"), Message(role="tool", content=[TextPart("x")])))


@pytest.mark.parametrize(
    ("choice", "parallel", "wire"),
    [
        (ToolChoice("auto"), None, {"type": "auto"}),
        (ToolChoice("required"), None, {"type": "any"}),
        (ToolChoice("none"), None, {"type": "none"}),
        (ToolChoice("tool", "get_time"), None, {"type": "tool", "name": "get_time"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        (ToolChoice("required"), False, {"type": "any", "disable_parallel_tool_use": True}),
        (None, True, {"type": "auto"}),
    ],
)
def test_tool_choice_and_parallel_calls(choice: ToolChoice | None, parallel: bool | None, wire: dict[str, Any]) -> None:
    data = body(ask(tools=[WEATHER, TIME], tool_choice=choice, parallel_tool_calls=parallel))
    assert data["tool_choice"] == wire
    assert data["tools"][0] == {"name": "get_weather", "description": "Weather for a city",
                                "input_schema": WEATHER.parameters}
    assert "description" not in data["tools"][1]


def test_response_format_becomes_a_forced_tool() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    data = body(ask(response_format=ResponseFormat(type="json_schema", name="x", schema=schema)))
    [tool] = data["tools"]
    assert (tool["name"], tool["input_schema"]) == (JSON_TOOL, schema)
    assert data["tool_choice"] == {"type": "tool", "name": JSON_TOOL}
    loose = body(ask(response_format=ResponseFormat(type="json_object")))
    assert loose["tools"][0]["input_schema"] == {"type": "object"}
    # With client tools the JSON tool is offered beside them, not forced, so the model may still call them.
    both = body(ask(tools=[WEATHER], response_format=ResponseFormat(type="json_object")))
    assert [t["name"] for t in both["tools"]] == ["get_weather", JSON_TOOL]
    assert "tool_choice" not in both
    assert "tools" not in body(ask(response_format=ResponseFormat(type="text")))
