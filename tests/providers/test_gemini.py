"""The Gemini adapter, driven through ``Gateway`` against the real simulator (which checks requests the way the
Gemini API does), against a tiny server for answers the simulator does not produce, and unit tests of the
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
    ContentFilteredError,
    ContextLengthExceededError,
    InvalidRequestError,
    MalformedResponseError,
    PermissionDeniedError,
    RateLimitedError,
    UnsupportedFeatureError,
    UpstreamError,
    UpstreamUnavailableError,
)
from switchyard.providers.base import Deployment
from switchyard.providers.gemini import sanitize_schema
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

KEY = "gem-test-SECRET123"
MODEL = "gemini-2.0-flash"
WEATHER = Tool(
    name="get_weather",
    description="Weather for a city",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "units": {"type": ["string", "null"], "enum": ["c", "f"]}},
        "required": ["city", "units"],
        "additionalProperties": False,
    },
)
TIME = Tool(name="get_time", parameters={"type": "object", "properties": {"zone": {"type": "string"}}})
PNG_DATA = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
PNG = f"data:image/png;base64,{PNG_DATA}"


def config(base_url: str, api_key: str | None = KEY, **provider: Any) -> dict[str, Any]:
    gemini: dict[str, Any] = {"type": "gemini", "base_url": base_url, **provider}
    if api_key is not None:
        gemini["api_key"] = api_key
    return {
        "resilience": SINGLE_SHOT,
        "providers": {"gemini": gemini},
        "models": {"gem": {"provider": "gemini", "model": MODEL}},
    }


@pytest.fixture
async def gw(sim: Simulator) -> AsyncIterator[Gateway]:
    async with Gateway(parse_config(config(sim.base_url))) as gateway:
        yield gateway


def ask(*messages: Message, **fields: Any) -> ChatRequest:
    return ChatRequest(model="gem", messages=list(messages) or [Message.user("hello")], **fields)


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
    assert response.id.startswith("sim-")
    assert response.model == MODEL
    assert response.usage == Usage(input_tokens=estimate_tokens("hello"), output_tokens=estimate_tokens(response.text))
    assert response.meta is not None
    assert (response.meta.deployment, response.meta.provider) == ("gem", "gemini")
    assert sim.requests == {f"gemini:{MODEL}": 1}


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
    assert call.id.startswith("call_")
    assert orjson.loads(call.arguments) == {"city": "sample city", "units": "c"}


async def test_tool_choice(gw: Gateway) -> None:
    forced = await gw.chat(ask(tools=[WEATHER, TIME], tool_choice=ToolChoice("tool", "get_time")))
    assert [c.name for c in forced.message.tool_calls] == ["get_time"]
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
    # The simulator, like Gemini, insists on one response part per call of the turn before.
    calls = [ToolCall("a", "get_weather", '{"city": "Oslo"}'), ToolCall("b", "get_time", "{}")]
    messages = [
        Message.user("Weather and time in Oslo?"),
        Message(role="assistant", tool_calls=calls),
        Message(role="tool", tool_call_id="a", content=[TextPart("sunny")]),
        Message(role="tool", tool_call_id="b", content=[TextPart('{"time": "12:00"}')]),
    ]
    response = await gw.chat(ask(*messages, tools=[WEATHER, TIME]))
    assert response.text == 'The tool returned: sunny\n{"time":"12:00"}'


async def test_tool_result_for_an_unknown_call_is_rejected_before_sending(gw: Gateway, sim: Simulator) -> None:
    orphan = Message(role="tool", tool_call_id="call_nowhere", content=[TextPart("42")])
    with pytest.raises(InvalidRequestError, match="call_nowhere"):
        await gw.chat(ask(Message.user("hi"), orphan))
    assert sim.requests == {}


async def test_images_by_data_uri_and_url(gw: Gateway) -> None:
    response = await gw.chat(ask(Message.user("what are these?", PNG, "https://example.com/cat.png")))
    assert response.text == f"{MODEL} says: what are these? I see 2 image(s)."
    assert response.usage is not None
    assert response.usage.input_tokens == estimate_tokens("what are these?") + 2 * 85


async def test_json_object_and_schema(gw: Gateway) -> None:
    response = await gw.chat(ask(Message.user("give me json"), response_format=ResponseFormat(type="json_object")))
    assert orjson.loads(response.text) == {"answer": "give me json"}
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "nickname": {"type": ["string", "null"]},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            "address": {"type": "object", "properties": {"city": {"type": "string"}}, "additionalProperties": False},
        },
        "required": ["name", "nickname", "tags", "address"],
        "additionalProperties": False,
    }
    fmt = ResponseFormat(type="json_schema", name="person", schema=schema, strict=True)
    data = orjson.loads((await gw.chat(ask(response_format=fmt))).text)
    assert data == {"name": "sample name", "nickname": "sample nickname", "tags": ["sample tags"],
                    "address": {"city": "sample city"}}


async def test_n_stop_and_max_tokens(gw: Gateway) -> None:
    response = await gw.chat(ask(n=2))
    assert [(c.index, c.message.text, c.finish_reason) for c in response.choices] == [
        (0, f"{MODEL} says: hello", "stop"), (1, f"{MODEL} says: hello", "stop")
    ]
    cut = await gw.chat(ask(Message.user("hello world again"), stop=["world"]))
    assert (cut.text, cut.choices[0].finish_reason) == (f"{MODEL} says: hello ", "stop")
    short = await gw.chat(ask(Message.user("a rather long question that will not fit"), max_tokens=3))
    assert short.choices[0].finish_reason == "length"
    assert f"{MODEL} says: a rather long".startswith(short.text)


@pytest.mark.parametrize(
    "request_fields",
    [
        {"logit_bias": {"42": 1.0}},
        {"parallel_tool_calls": False, "tools": [WEATHER]},
        {"messages": [Message(role="user", content=[TextPart("hi")], name="alice")]},
    ],
    ids=["logit_bias", "parallel_tool_calls", "message-name"],
)
async def test_unsupported_features_are_rejected_before_sending(
    gw: Gateway, sim: Simulator, request_fields: dict[str, Any]
) -> None:
    with pytest.raises(UnsupportedFeatureError) as caught:
        await gw.chat(ChatRequest(model="gem", **{"messages": [Message.user("hi")], **request_fields}))
    assert caught.value.status_code == 400
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


async def test_stream_tool_call_arrives_whole(gw: Gateway) -> None:
    complete = await gw.chat(ask(tools=[WEATHER]))
    chunks = await collect(gw, ask(tools=[WEATHER]))
    [delta] = [d for c in chunks for d in c.tool_calls]
    assert (delta.index, delta.name) == (0, "get_weather")
    assert delta.id is not None
    assert delta.id.startswith("call_")
    assert orjson.loads(delta.arguments) == orjson.loads(complete.message.tool_calls[0].arguments)
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["tool_calls"]
    assert chunks[-1].usage is not None


async def test_stream_with_n_keeps_candidates_apart(gw: Gateway) -> None:
    chunks = await collect(gw, ask(Message.user("one two three four five six"), n=2))
    for index in (0, 1):
        mine = [c for c in chunks if c.index == index and c.usage is None]
        assert "".join(c.text or "" for c in mine) == f"{MODEL} says: one two three four five six"
        assert mine[0].role == "assistant"
        assert [c.finish_reason for c in mine if c.finish_reason] == ["stop"]
    assert chunks[-1].usage is not None


# -- errors -------------------------------------------------------------------------------------------------


async def test_invalid_key_is_authentication_error(sim: Simulator) -> None:
    async with Gateway(parse_config(config(sim.base_url, api_key="invalid"))) as gw:
        with pytest.raises(AuthenticationError) as caught:
            await gw.chat(ask())
    exc = caught.value
    assert (exc.upstream_status, exc.code, exc.fallback) == (400, "API_KEY_INVALID", True)
    assert (exc.provider, exc.deployment) == ("gemini", "gem")


async def test_missing_key_is_permission_denied(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    async with Gateway(parse_config(config(sim.base_url, api_key=None))) as gw:
        with pytest.raises(PermissionDeniedError) as caught:
            await gw.chat(ask())
    assert (caught.value.upstream_status, caught.value.code) == (403, "PERMISSION_DENIED")


async def test_rate_limit_retry_after_comes_from_retry_info(gw: Gateway, sim: Simulator) -> None:
    sim.set_faults("gemini", {"rate_limit_rate": 1.0, "retry_after_s": 7})
    with pytest.raises(RateLimitedError) as caught:
        await gw.chat(ask())
    exc = caught.value
    assert (exc.retry_after, exc.upstream_status, exc.code, exc.retryable) == (7, 429, "RESOURCE_EXHAUSTED", True)
    sim.set_faults("gemini", {"rate_limit_rate": 1.0, "retry_after_s": 2.5})
    with pytest.raises(RateLimitedError) as caught:
        await gw.stream(ask(stream=True))
    assert caught.value.retry_after == 2.5


@pytest.mark.parametrize(
    ("faults", "status", "message"),
    [
        ({"overloaded_rate": 1.0}, 503, "The model is overloaded. Please try again later."),
        ({"error_rate": 1.0, "error_status": 503}, 503, "simulated upstream error (503)"),
        ({"error_rate": 1.0}, 500, "simulated upstream error (500)"),
    ],
    ids=["overloaded", "unavailable", "internal"],
)
async def test_server_errors_are_unavailable(
    gw: Gateway, sim: Simulator, faults: dict[str, Any], status: int, message: str
) -> None:
    sim.set_faults("gemini", faults)
    with pytest.raises(UpstreamUnavailableError) as caught:
        await gw.chat(ask())
    exc = caught.value
    assert (exc.upstream_status, exc.message, exc.retryable, exc.fallback) == (status, message, True, True)


async def test_context_length(gw: Gateway, sim: Simulator) -> None:
    sim.set_faults("gemini", {"context_window": 10})
    with pytest.raises(ContextLengthExceededError) as caught:
        await gw.chat(ask(Message.user("this prompt is comfortably longer than the ten tokens allowed here")))
    exc = caught.value
    assert (exc.upstream_status, exc.fallback, exc.code) == (400, True, "INVALID_ARGUMENT")
    assert "exceeds the maximum number of tokens allowed (10)" in exc.message
    assert (await gw.chat(ask(Message.user("hi")))).text == f"{MODEL} says: hi"


async def test_blocked_prompt_is_content_filtered(sim: Simulator) -> None:
    cfg = config(sim.base_url, headers={"x-sim-fault": "content_filter"})
    async with Gateway(parse_config(cfg)) as gw:
        with pytest.raises(ContentFilteredError) as caught:
            await gw.chat(ask())
        assert (caught.value.code, caught.value.fallback, caught.value.deployment) == ("SAFETY", False, "gem")
        with pytest.raises(ContentFilteredError):
            await gw.stream(ask(stream=True))


async def test_request_the_upstream_rejects_is_bad_request(gw: Gateway) -> None:
    # ``extra`` goes into the body as is; the simulator, like Gemini, rejects a field it does not know.
    with pytest.raises(BadRequestError) as caught:
        await gw.chat(ask(extra={"notAField": 1}))
    assert type(caught.value) is BadRequestError
    assert 'Unknown name "notAField"' in caught.value.message


async def test_cut_stream_is_unavailable(gw: Gateway, sim: Simulator) -> None:
    sim.set_faults("gemini", {"cut_stream_rate": 1.0, "cut_after_chunks": 2})
    received: list[ChatChunk] = []
    with pytest.raises(UpstreamUnavailableError) as caught:
        await drain(gw, ask(Message.user("one two three four five six seven eight nine ten")), received)
    assert len(received) == 2
    assert not any(c.finish_reason or c.usage for c in received)
    assert caught.value.deployment == "gem"


async def test_garbled_answers_are_malformed(gw: Gateway, sim: Simulator) -> None:
    sim.set_faults("gemini", {"garbled_rate": 1.0})
    with pytest.raises(MalformedResponseError):
        await gw.chat(ask())
    received: list[ChatChunk] = []
    with pytest.raises(MalformedResponseError) as caught:
        await drain(gw, ask(Message.user("one two three four five six seven eight")), received)
    assert received, "the chunk before the garbled one is delivered"
    assert caught.value.deployment == "gem"


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


def _sse(*events: Any) -> bytes:
    return b"".join(b"data: " + (e if isinstance(e, bytes) else orjson.dumps(e)) + b"\n\n" for e in events)


def _answer(finish: str, *parts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": list(parts)}, "finishReason": finish, "index": 0}],
            **extra}


_ERROR_429 = {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED", "details": [
    {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30.5s"},
]}}
_ODD: dict[str, tuple[int, dict[str, str], bytes]] = {
    "thinking": (200, {}, orjson.dumps(_answer(
        "STOP", {"text": "let me think", "thought": True}, {"text": "42"},
        {"functionCall": {"id": "fc-1", "name": "lookup", "args": {"q": "x"}}, "thoughtSignature": "c2ln"},
        usageMetadata={"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 7,
                       "cachedContentTokenCount": 4, "totalTokenCount": 22},
    ))),
    "malformed-call": (200, {}, orjson.dumps(_answer("MALFORMED_FUNCTION_CALL"))),
    "safety": (200, {}, orjson.dumps(_answer("SAFETY"))),
    "brand-new-reason": (200, {}, orjson.dumps(_answer("SOMETHING_NEW", {"text": "hm"}))),
    "no-candidates": (200, {}, b'{"usageMetadata": {"promptTokenCount": 1}}'),
    "array-body": (200, {}, b"[]"),
    "header-wins": (429, {"retry-after": "3"}, orjson.dumps(_ERROR_429)),
    "array-error": (429, {}, orjson.dumps([_ERROR_429])),
    "stream-error": (200, {"content-type": "text/event-stream"}, _sse(
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "index": 0}]}, _ERROR_429)),
    "stream-no-finish": (200, {"content-type": "text/event-stream"}, _sse(
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "index": 0}]})),
}


@pytest.fixture
async def odd() -> AsyncIterator[str]:
    async def answer(request: web.Request) -> web.Response:
        status, headers, payload = _ODD[request.match_info["case"]]
        return web.Response(status=status, headers=headers, body=payload)

    async with serve_routes(
        web.post("/{case}/v1beta/models/{model_action}", answer)
    ) as url:
        yield url


async def odd_chat(base: str, case: str, *, stream: bool = False) -> Any:
    async with Gateway(parse_config(config(f"{base}/{case}"))) as gw:
        if not stream:
            return await gw.chat(ask())
        return [chunk async for chunk in await gw.stream(ask(stream=True))]


async def test_thoughts_are_reasoning_and_call_ids_are_kept(odd: str) -> None:
    response = await odd_chat(odd, "thinking")
    assert response.text == "42"
    assert response.message.tool_calls == [ToolCall("fc-1", "lookup", '{"q":"x"}')]
    assert response.choices[0].finish_reason == "tool_calls"
    assert response.usage == Usage(input_tokens=10, output_tokens=12, cached_tokens=4, reasoning_tokens=7)


@pytest.mark.parametrize(
    ("case", "finish"), [("malformed-call", "error"), ("safety", "content_filter"), ("brand-new-reason", "error")]
)
async def test_finish_reasons(odd: str, case: str, finish: str) -> None:
    assert (await odd_chat(odd, case)).choices[0].finish_reason == finish


@pytest.mark.parametrize("case", ["no-candidates", "array-body"])
async def test_unusable_bodies_are_malformed(odd: str, case: str) -> None:
    with pytest.raises(MalformedResponseError):
        await odd_chat(odd, case)


@pytest.mark.parametrize(("case", "retry_after"), [("header-wins", 3.0), ("array-error", 30.5)])
async def test_rate_limit_bodies(odd: str, case: str, retry_after: float) -> None:
    with pytest.raises(RateLimitedError) as caught:
        await odd_chat(odd, case)
    assert (caught.value.retry_after, caught.value.message) == (retry_after, "quota")


async def test_error_event_mid_stream(odd: str) -> None:
    with pytest.raises(RateLimitedError) as caught:
        await odd_chat(odd, "stream-error", stream=True)
    assert (caught.value.retry_after, caught.value.deployment) == (30.5, "gem")


async def test_stream_that_ends_without_a_finish_reason_is_incomplete(odd: str) -> None:
    with pytest.raises(UpstreamUnavailableError, match="ended before it was complete"):
        await odd_chat(odd, "stream-no-finish", stream=True)


# -- request body translation (no network) ------------------------------------------------------------------

GEMINI = {"type": "gemini", "api_key": KEY, "base_url": "http://upstream.test"}


def deployment(provider: dict[str, Any] = GEMINI, model: str = MODEL) -> Deployment:
    cfg = parse_config({"providers": {"p": provider}, "models": {"m": {"provider": "p", "model": model}}})
    # The transport opens its session lazily, on the first send; nothing is sent here.
    return build_deployments(cfg, AiohttpTransport())["m"]


def body(request: ChatRequest, dep: Deployment | None = None) -> dict[str, Any]:
    dep = dep or deployment()
    upstream = dep.adapter._build_request(request, dep, stream=False)
    assert upstream.body is not None
    data: dict[str, Any] = orjson.loads(upstream.body)
    return data


def test_request_lines_and_key_header() -> None:
    dep = deployment()
    plain = dep.adapter._build_request(ask(), dep, stream=False)
    assert (plain.method, plain.url) == ("POST", f"http://upstream.test/v1beta/models/{MODEL}:generateContent")
    assert plain.headers["x-goog-api-key"] == KEY
    streamed = dep.adapter._build_request(ask(), dep, stream=True)
    assert streamed.url == f"http://upstream.test/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
    assert KEY not in plain.url
    assert KEY not in streamed.url
    v1 = deployment({**GEMINI, "api_version": "v1"}, model="tunedModels/mine")
    assert v1.adapter._build_request(ask(), v1, stream=False).url == (
        "http://upstream.test/v1/tunedModels/mine:generateContent"
    )


def test_minimal_body() -> None:
    assert body(ask()) == {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}


def test_message_shapes() -> None:
    calls = [ToolCall("c1", "get_weather", '{"city":"Oslo"}'), ToolCall("c2", "get_time", "")]
    messages = [
        Message.system("sys one"),
        Message(role="user", content=[TextPart("look"), ImagePart(PNG, detail="low"),
                                      ImagePart("https://x.test/a.webp?size=2"), ImagePart("https://x.test/photo")]),
        Message(role="assistant", content=[TextPart("checking")], tool_calls=calls),
        Message(role="tool", tool_call_id="c1", content=[TextPart('{"temp": 21}')]),
        Message(role="tool", tool_call_id="c2", content=[TextPart("boom")], is_error=True),
        Message.system("sys two"),
        Message(role="assistant", content=[TextPart("")]),
        Message.user("thanks"),
    ]
    data = body(ask(*messages))
    assert data["systemInstruction"] == {"parts": [{"text": "sys one"}, {"text": "sys two"}]}
    assert data["contents"] == [
        {"role": "user", "parts": [
            {"text": "look"},
            {"inlineData": {"mimeType": "image/png", "data": PNG_DATA}},
            {"fileData": {"fileUri": "https://x.test/a.webp?size=2", "mimeType": "image/webp"}},
            {"fileData": {"fileUri": "https://x.test/photo", "mimeType": "image/jpeg"}},
        ]},
        {"role": "model", "parts": [
            {"text": "checking"},
            {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}, "id": "c1"}},
            {"functionCall": {"name": "get_time", "args": {}, "id": "c2"}},
        ]},
        # Both results, and the next user turn, merge into one user turn; the empty assistant turn is dropped.
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp": 21}, "id": "c1"}},
            {"functionResponse": {"name": "get_time", "response": {"error": "boom"}, "id": "c2"}},
            {"text": "thanks"},
        ]},
    ]


def test_plain_text_tool_result_is_wrapped() -> None:
    messages = [Message.user("q"), Message(role="assistant", tool_calls=[ToolCall("c", "f", "{}")]),
                Message(role="tool", tool_call_id="c", content=[TextPart("[1, 2]")])]
    part = body(ask(*messages))["contents"][-1]["parts"][0]
    assert part == {"functionResponse": {"name": "f", "response": {"result": "[1, 2]"}, "id": "c"}}


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]"])
def test_tool_call_arguments_must_be_a_json_object(arguments: str) -> None:
    messages = [Message.user("q"), Message(role="assistant", tool_calls=[ToolCall("c", "f", arguments)])]
    with pytest.raises(InvalidRequestError, match="'c'"):
        body(ask(*messages))


def test_tools_are_declared_with_sanitized_schemas() -> None:
    no_args = Tool(name="ping")
    data = body(ask(tools=[WEATHER, no_args]))
    assert data["tools"] == [{"functionDeclarations": [
        {"name": "get_weather", "description": "Weather for a city", "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"}, "units": {"type": "string", "nullable": True, "enum": ["c", "f"]}
            },
            "required": ["city", "units"],
        }},
        {"name": "ping"},
    ]}]


def test_sanitize_schema_recurses_but_keeps_property_names() -> None:
    schema = {
        "$schema": "x", "type": "object", "additionalProperties": False,
        "properties": {
            "additionalProperties": {"type": "string", "examples": ["a"]},
            "list": {"type": "array", "items": {"type": "object", "additionalProperties": False, "properties": {}}},
            "either": {"anyOf": [{"type": "integer", "exclusiveMinimum": 0}, {"type": "null"}]},
            "choice": {"enum": ["additionalProperties"], "default": {"additionalProperties": 1}},
        },
    }
    assert sanitize_schema(schema) == {
        "type": "object",
        "properties": {
            "additionalProperties": {"type": "string"},
            "list": {"type": "array", "items": {"type": "object", "properties": {}}},
            "either": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "choice": {"enum": ["additionalProperties"], "default": {"additionalProperties": 1}},
        },
    }


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        (ToolChoice("auto"), {"mode": "AUTO"}),
        (ToolChoice("none"), {"mode": "NONE"}),
        (ToolChoice("required"), {"mode": "ANY"}),
        (ToolChoice("tool", "get_weather"), {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
    ],
)
def test_tool_choice_shapes(choice: ToolChoice, wire: dict[str, Any]) -> None:
    assert body(ask(tools=[WEATHER], tool_choice=choice))["toolConfig"] == {"functionCallingConfig": wire}


def test_generation_config() -> None:
    request = ask(temperature=0.2, top_p=0.9, max_tokens=50, stop=["END"], seed=7, n=2, presence_penalty=0.5,
                  frequency_penalty=0.1, logprobs=True, top_logprobs=3, user="u-1")
    data = body(request)
    assert data["generationConfig"] == {
        "temperature": 0.2, "topP": 0.9, "maxOutputTokens": 50, "seed": 7, "candidateCount": 2,
        "presencePenalty": 0.5, "frequencyPenalty": 0.1, "responseLogprobs": True, "logprobs": 3,
        "stopSequences": ["END"],
    }
    assert set(data) == {"contents", "generationConfig"}


@pytest.mark.parametrize(
    ("fmt", "wire"),
    [
        (ResponseFormat(type="text"), None),
        (ResponseFormat(type="json_object"), {"responseMimeType": "application/json"}),
        (ResponseFormat(type="json_schema", schema={"type": "object", "properties": {"a": {"type": "integer"}},
                                                    "additionalProperties": False}),
         {"responseMimeType": "application/json",
          "responseSchema": {"type": "object", "properties": {"a": {"type": "integer"}}}}),
    ],
    ids=["text", "json_object", "json_schema"],
)
def test_response_format(fmt: ResponseFormat, wire: dict[str, Any] | None) -> None:
    assert body(ask(response_format=fmt)).get("generationConfig") == wire


def test_extra_merges_recursively() -> None:
    extra = {
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}, "temperature": 1.0},
        "toolConfig": {"functionCallingConfig": {"mode": "VALIDATED"}},
    }
    data = body(ask(temperature=0.2, max_tokens=9, tools=[WEATHER], tool_choice=ToolChoice("tool", "get_weather"),
                    extra=extra))
    assert data["safetySettings"] == extra["safetySettings"]
    assert data["generationConfig"] == {
        "temperature": 1.0, "maxOutputTokens": 9, "thinkingConfig": {"thinkingBudget": 0}
    }
    assert data["toolConfig"] == {
        "functionCallingConfig": {"mode": "VALIDATED", "allowedFunctionNames": ["get_weather"]}
    }
    assert extra["generationConfig"] == {"thinkingConfig": {"thinkingBudget": 0}, "temperature": 1.0}
