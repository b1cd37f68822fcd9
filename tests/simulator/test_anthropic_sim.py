"""Simulator fidelity: the official ``anthropic`` SDK talks to the simulated Messages API exactly as it would to the
real one, streams and errors included. The SDK validates responses into typed models and maps statuses to its own
exception classes (529 is ``OverloadedError``), so a wrong shape or status fails here."""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import anthropic
import orjson
import pytest
from anthropic.types import MessageParam, TextBlock, ToolParam, ToolUseBlock

from switchyard.simulator import Simulator
from switchyard.simulator.reply import estimate_tokens, split_text

# Not claude-sonnet-4-6: the SDK warns that it is deprecated, and warnings are errors in this suite.
MODEL = "claude-sonnet-4-6"
KEY = "ant-test-key"
PNG = base64.b64encode(base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk")).decode()
WEATHER: ToolParam = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}
TIME: ToolParam = {"name": "get_time", "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}}}}


def user(content: Any) -> MessageParam:
    return {"role": "user", "content": content}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection attempt (the SDK's included) to anywhere but this machine."""
    connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1"):
            raise ConnectionRefusedError(f"tests stay on loopback; refused a connection to {host!r}")
        connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[anthropic.AsyncAnthropic]:
    # No retries: the SDK would retry 429/5xx/529 and hide the simulator's errors.
    async with anthropic.AsyncAnthropic(api_key=KEY, base_url=sim.base_url, max_retries=0, timeout=10) as c:
        yield c


# -- answers ------------------------------------------------------------------------------------------------


async def test_create_message(sim: Simulator, client: anthropic.AsyncAnthropic) -> None:
    message = await client.messages.create(model=MODEL, max_tokens=256, system="Be brief.", messages=[user("hello")])
    assert message.id.startswith("msg_")
    assert (message.type, message.role, message.model) == ("message", "assistant", MODEL)
    assert message.content == [TextBlock(type="text", text=f"{MODEL} says: hello")]
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
    usage = message.usage
    assert usage.input_tokens == estimate_tokens("Be brief.\nhello")
    assert usage.output_tokens == estimate_tokens(f"{MODEL} says: hello")
    assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (0, 0)
    assert usage.service_tier == "standard"
    assert sim.requests == {f"anthropic:{MODEL}": 1}


async def test_system_blocks_and_turns_that_do_not_alternate(client: anthropic.AsyncAnthropic) -> None:
    messages: list[MessageParam] = [
        {"role": "assistant", "content": "I open the conversation."},
        user("first question"),
        user([{"type": "text", "text": "second "}, {"type": "text", "text": "question"}]),
    ]
    message = await client.messages.create(
        model=MODEL, max_tokens=256, system=[{"type": "text", "text": "Be brief."}], messages=messages
    )
    assert message.content == [TextBlock(type="text", text=f"{MODEL} says: second question")]
    texts = ["Be brief.", "I open the conversation.", "first question", "second question"]
    assert message.usage.input_tokens == estimate_tokens("\n".join(texts))


async def test_system_turns_in_messages(client: anthropic.AsyncAnthropic) -> None:
    # The 2.x SDK types ``messages`` to take text-only system turns besides the top-level ``system``.
    messages: list[MessageParam] = [{"role": "system", "content": "Be brief."}, user("hello")]
    message = await client.messages.create(model=MODEL, max_tokens=256, messages=messages)
    assert message.content == [TextBlock(type="text", text=f"{MODEL} says: hello")]
    assert message.usage.input_tokens == estimate_tokens("Be brief.\nhello")


async def test_zero_max_tokens_generates_nothing(client: anthropic.AsyncAnthropic) -> None:
    # Documented upstream as the way to pre-warm the prompt cache: no output, not even a forced tool call.
    message = await client.messages.create(
        model=MODEL, max_tokens=0, tools=[WEATHER], tool_choice={"type": "any"}, messages=[user("hello")]
    )
    assert (message.content, message.stop_reason, message.usage.output_tokens) == ([], "max_tokens", 0)
    assert message.usage.input_tokens > 0


async def test_max_tokens_truncates(client: anthropic.AsyncAnthropic) -> None:
    message = await client.messages.create(model=MODEL, max_tokens=2, messages=[user("a long question that won't fit")])
    assert message.stop_reason == "max_tokens"
    [block] = message.content
    assert isinstance(block, TextBlock)
    assert block.text == f"{MODEL} says: a long question"[:8]
    assert message.usage.output_tokens == 2


@pytest.mark.parametrize("max_tokens", [1024, 8], ids=["roomy", "tight"])
async def test_stop_sequence(client: anthropic.AsyncAnthropic, max_tokens: int) -> None:
    # "tight": the cut text fits max_tokens but the uncut one would not; it still stopped at the sequence.
    message = await client.messages.create(
        model=MODEL, max_tokens=max_tokens, stop_sequences=["nope", "world"], messages=[user("hello world again")]
    )
    assert message.content == [TextBlock(type="text", text=f"{MODEL} says: hello ")]
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "world")


async def test_tool_use(client: anthropic.AsyncAnthropic) -> None:
    message = await client.messages.create(
        model=MODEL, max_tokens=256, tools=[WEATHER, TIME], messages=[user("Weather in Oslo?")]
    )
    assert message.stop_reason == "tool_use"
    [call] = message.content
    assert isinstance(call, ToolUseBlock)
    assert call.id.startswith("toolu_")
    assert (call.name, call.input) == ("get_weather", {"city": "sample city", "days": 42})


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "tool", "name": "get_time"}, ("get_time", {"zone": "sample zone"})),
        ({"type": "any"}, ("get_weather", {"city": "sample city", "days": 42})),
        ({"type": "auto", "disable_parallel_tool_use": True}, ("get_weather", {"city": "sample city", "days": 42})),
        ({"type": "none"}, None),
    ],
    ids=["tool", "any", "auto", "none"],
)
async def test_tool_choice(client: anthropic.AsyncAnthropic, choice: Any, expected: Any) -> None:
    message = await client.messages.create(
        model=MODEL, max_tokens=256, tools=[WEATHER, TIME], tool_choice=choice, messages=[user("hello")]
    )
    if expected is None:
        assert message.content == [TextBlock(type="text", text=f"{MODEL} says: hello")]
        assert message.stop_reason == "end_turn"
    else:
        [call] = message.content
        assert isinstance(call, ToolUseBlock)
        assert (call.name, call.input) == expected
        assert message.stop_reason == "tool_use"


@pytest.mark.parametrize(
    "content", ["sunny, 21 C", [{"type": "text", "text": "sunny, "}, {"type": "text", "text": "21 C"}]],
    ids=["string", "blocks"],
)
async def test_tool_result_round_trip(client: anthropic.AsyncAnthropic, content: Any) -> None:
    question = user("Weather in Oslo?")
    first = await client.messages.create(model=MODEL, max_tokens=256, tools=[WEATHER], messages=[question])
    [call] = first.content
    assert isinstance(call, ToolUseBlock)
    result = user([{"type": "tool_result", "tool_use_id": call.id, "content": content}])
    second = await client.messages.create(
        model=MODEL, max_tokens=256, tools=[WEATHER], messages=[question, first.to_param(), result]
    )
    assert second.content == [TextBlock(type="text", text="The tool returned: sunny, 21 C")]
    assert second.stop_reason == "end_turn"


@pytest.mark.parametrize(
    "source",
    [{"type": "base64", "media_type": "image/png", "data": PNG}, {"type": "url", "url": "https://example.com/a.png"}],
    ids=["base64", "url"],
)
async def test_image_is_counted(client: anthropic.AsyncAnthropic, source: Any) -> None:
    content = [{"type": "image", "source": source}, {"type": "text", "text": "what is this?"}]
    message = await client.messages.create(model=MODEL, max_tokens=256, messages=[user(content)])
    assert message.content == [TextBlock(type="text", text=f"{MODEL} says: what is this? I see 1 image(s).")]
    assert message.usage.input_tokens == estimate_tokens("what is this?") + 85
    counted = await client.messages.count_tokens(model=MODEL, messages=[user(content)])
    assert counted.input_tokens == message.usage.input_tokens


async def test_count_tokens_matches_usage(client: anthropic.AsyncAnthropic) -> None:
    messages = [user("How many tokens is this?")]
    counted = await client.messages.count_tokens(model=MODEL, system="Be brief.", tools=[WEATHER], messages=messages)
    message = await client.messages.create(
        model=MODEL, max_tokens=256, system="Be brief.", tools=[WEATHER], messages=messages
    )
    assert counted.input_tokens == message.usage.input_tokens
    assert counted.input_tokens > estimate_tokens("Be brief.\nHow many tokens is this?")  # the tool schema counts


async def test_structured_output(client: anthropic.AsyncAnthropic) -> None:
    properties = {"name": {"type": "string"}, "age": {"type": "integer"}}
    schema: dict[str, object] = {"type": "object", "properties": properties}
    message = await client.messages.create(
        model=MODEL, max_tokens=256, messages=[user("a person")],
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )
    [block] = message.content
    assert isinstance(block, TextBlock)
    assert orjson.loads(block.text) == {"name": "sample name", "age": 42}


# -- streams ------------------------------------------------------------------------------------------------


async def test_stream_matches_create(client: anthropic.AsyncAnthropic) -> None:
    question = [user("tell me a story about a cat and a dog")]
    whole = await client.messages.create(model=MODEL, max_tokens=256, system="Be brief.", messages=question)
    async with client.messages.stream(model=MODEL, max_tokens=256, system="Be brief.", messages=question) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == f"{MODEL} says: tell me a story about a cat and a dog"
    assert [b.model_dump() for b in final.content] == [b.model_dump() for b in whole.content]
    assert (final.stop_reason, final.stop_sequence) == ("end_turn", None)
    assert (final.usage.input_tokens, final.usage.output_tokens) == (
        whole.usage.input_tokens, whole.usage.output_tokens
    )
    assert final.id.startswith("msg_")


async def test_raw_stream_events_in_order(client: anthropic.AsyncAnthropic) -> None:
    stream = await client.messages.create(
        model=MODEL, max_tokens=256, stream=True, messages=[user("one two three four five six seven")]
    )
    events = [event async for event in stream]
    text = f"{MODEL} says: one two three four five six seven"
    deltas = len(split_text(text))
    assert deltas > 1
    assert [e.type for e in events] == [
        "message_start", "content_block_start", *["content_block_delta"] * deltas, "content_block_stop",
        "message_delta", "message_stop",
    ]
    start, block_start, *rest = events
    assert start.type == "message_start"
    assert (start.message.content, start.message.stop_reason, start.message.usage.output_tokens) == ([], None, 1)
    assert start.message.usage.input_tokens == estimate_tokens("one two three four five six seven")
    assert block_start.type == "content_block_start"
    assert (block_start.index, block_start.content_block) == (0, TextBlock(type="text", text=""))
    streamed = "".join(e.delta.text for e in rest if e.type == "content_block_delta" and e.delta.type == "text_delta")
    assert streamed == text
    delta = events[-2]
    assert delta.type == "message_delta"
    assert (delta.delta.stop_reason, delta.delta.stop_sequence) == ("end_turn", None)
    assert delta.usage.output_tokens == estimate_tokens(text)


async def test_stream_tool_use(client: anthropic.AsyncAnthropic) -> None:
    kwargs: Any = {"model": MODEL, "max_tokens": 256, "tools": [WEATHER], "messages": [user("Weather in Oslo?")]}
    async with client.messages.stream(**kwargs) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_message()
    [call] = final.content
    assert isinstance(call, ToolUseBlock)
    assert (call.name, call.input) == ("get_weather", {"city": "sample city", "days": 42})
    assert call.id.startswith("toolu_")
    assert final.stop_reason == "tool_use"
    fragments = [e.delta.partial_json for e in events
                 if e.type == "content_block_delta" and e.delta.type == "input_json_delta"]
    assert len(fragments) >= 2
    assert orjson.loads("".join(fragments)) == call.input
    [start] = [e for e in events if e.type == "content_block_start"]
    assert start.index == 0
    assert start.content_block.type == "tool_use"
    assert start.content_block.input == {}


async def test_stream_stop_sequence(client: anthropic.AsyncAnthropic) -> None:
    async with client.messages.stream(
        model=MODEL, max_tokens=256, stop_sequences=["world"], messages=[user("hello world again")]
    ) as stream:
        final = await stream.get_final_message()
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", "world")
    assert [(b.type, getattr(b, "text", None)) for b in final.content] == [("text", f"{MODEL} says: hello ")]


# -- errors -------------------------------------------------------------------------------------------------


async def test_invalid_key(sim: Simulator) -> None:
    async with anthropic.AsyncAnthropic(api_key="invalid", base_url=sim.base_url, max_retries=0) as c:
        with pytest.raises(anthropic.AuthenticationError) as caught:
            await c.messages.create(model=MODEL, max_tokens=16, messages=[user("hi")])
    exc = caught.value
    assert exc.status_code == 401
    assert isinstance(exc.body, dict)
    assert exc.body["type"] == "error"
    assert exc.body["error"] == {"type": "authentication_error", "message": "invalid x-api-key"}
    assert exc.request_id is not None
    assert exc.request_id.startswith("req_")
    assert sim.requests == {}


async def test_bearer_token_is_accepted(sim: Simulator) -> None:
    async with anthropic.AsyncAnthropic(auth_token="tok-123", base_url=sim.base_url, max_retries=0) as c:
        message = await c.messages.create(model=MODEL, max_tokens=64, messages=[user("hi")])
    assert message.content == [TextBlock(type="text", text=f"{MODEL} says: hi")]


async def test_overloaded_is_529(client: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.InternalServerError) as caught:
        await client.messages.create(
            model=MODEL, max_tokens=16, messages=[user("hi")], extra_headers={"x-sim-fault": "overloaded"}
        )
    exc = caught.value
    assert isinstance(exc, anthropic.OverloadedError)
    assert exc.status_code == 529
    assert isinstance(exc.body, dict)
    assert exc.body["error"]["type"] == "overloaded_error"


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(500, anthropic.InternalServerError), (503, anthropic.ServiceUnavailableError)],
    ids=["500", "503"],
)
async def test_server_errors_are_api_errors(
    sim: Simulator, client: anthropic.AsyncAnthropic, status: int, error_class: type[anthropic.APIStatusError]
) -> None:
    sim.set_faults("anthropic", {"error_rate": 1.0, "error_status": status})
    with pytest.raises(error_class) as caught:
        await client.messages.create(model=MODEL, max_tokens=16, messages=[user("hi")])
    assert caught.value.status_code == status
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"] == {"type": "api_error", "message": f"simulated upstream error ({status})"}


async def test_rate_limit_has_retry_after(sim: Simulator, client: anthropic.AsyncAnthropic) -> None:
    sim.set_faults("anthropic", {"rate_limit_rate": 1.0, "retry_after_s": 7})
    with pytest.raises(anthropic.RateLimitError) as caught:
        await client.messages.create(model=MODEL, max_tokens=16, messages=[user("hi")])
    exc = caught.value
    assert exc.status_code == 429
    assert exc.response.headers["retry-after"] == "7"
    assert isinstance(exc.body, dict)
    assert exc.body["error"]["type"] == "rate_limit_error"


async def test_context_length(sim: Simulator, client: anthropic.AsyncAnthropic) -> None:
    sim.set_faults("anthropic", {"context_window": 3})
    prompt = "a prompt well over three tokens long"
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(model=MODEL, max_tokens=16, messages=[user(prompt)])
    assert f"prompt is too long: {estimate_tokens(prompt)} tokens > 3 maximum" in caught.value.message
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == "invalid_request_error"


async def test_content_filter_is_a_refusal(sim: Simulator, client: anthropic.AsyncAnthropic) -> None:
    sim.set_faults("anthropic", {"content_filter_rate": 1.0})
    message = await client.messages.create(model=MODEL, max_tokens=64, messages=[user("something bad")])
    assert (message.stop_reason, message.content) == ("refusal", [])
    assert message.stop_details is not None
    assert message.stop_details.type == "refusal"
    async with client.messages.stream(model=MODEL, max_tokens=64, messages=[user("something bad")]) as stream:
        final = await stream.get_final_message()
    assert (final.stop_reason, final.content) == ("refusal", [])


# -- the wire, below the SDK --------------------------------------------------------------------------------


@pytest.fixture
async def http(sim: Simulator) -> AsyncIterator[Callable[..., Any]]:
    async with aiohttp.ClientSession() as session:

        async def post(
            body: Any, *, path: str = "/v1/messages", headers: dict[str, str] | None = None
        ) -> tuple[int, dict[str, str], bytes]:
            sent = {"x-api-key": KEY, "anthropic-version": "2023-06-01"} if headers is None else headers
            data = orjson.dumps(body)
            async with session.post(f"{sim.base_url}{path}", data=data, headers=sent) as resp:
                return resp.status, dict(resp.headers), await resp.read()

        yield post


HELLO: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hello"}]}


async def test_raw_sse_frames(http: Callable[..., Any]) -> None:
    status, headers, body = await http({**HELLO, "stream": True})
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    frames = [frame for frame in body.decode().split("\n\n") if frame]
    names = []
    for frame in frames:
        event_line, data_line = frame.split("\n")
        name = event_line.removeprefix("event: ")
        assert orjson.loads(data_line.removeprefix("data: "))["type"] == name  # the event name is the data's type
        names.append(name)
    # The SDK drops pings, so they are checked here: right after message_start, as upstream sends them.
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]


async def test_missing_key(http: Callable[..., Any]) -> None:
    status, _, body = await http(HELLO, headers={"anthropic-version": "2023-06-01"})
    assert status == 401
    assert orjson.loads(body)["error"] == {"type": "authentication_error", "message": "x-api-key header is required"}


async def test_missing_version_header(http: Callable[..., Any]) -> None:
    status, _, body = await http(HELLO, headers={"x-api-key": KEY})
    assert status == 400
    assert orjson.loads(body)["error"] == {
        "type": "invalid_request_error", "message": "anthropic-version: header is required"
    }


def _turns(*turns: tuple[str, Any]) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 64, "messages": [{"role": r, "content": c} for r, c in turns]}


_CALL = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": MODEL, "messages": HELLO["messages"]}, "max_tokens: Field required"),
        ({**HELLO, "max_tokens": -1}, "max_tokens: Input should be greater than or equal to 0"),
        ({"max_tokens": 64, "messages": HELLO["messages"]}, "model: Field required"),
        ({**HELLO, "response_format": {"type": "json_object"}}, "response_format: Extra inputs are not permitted"),
        (["not", "an", "object"], "Input should be a valid dictionary"),
        ({**HELLO, "temperature": 1.5}, "temperature: Input should be less than or equal to 1"),
        ({**HELLO, "metadata": {"session": "x"}}, "metadata.session: Extra inputs are not permitted"),
        ({**HELLO, "messages": []}, "messages: List should have at least 1 item"),
        (_turns(("user", "hi"), ("tool", "42")), 'messages: Unexpected role "tool"'),
        (_turns(("developer", "Be brief."), ("user", "hi")), 'messages: Unexpected role "developer"'),
        (_turns(("system", [{"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}]),
                ("user", "hi")), "messages.0.content.0: Input tag 'image' found using 'type' is not allowed in system"),
        (_turns(("user", "")), "messages.0: all messages must have non-empty content"),
        (_turns(("user", [{"type": "text", "text": ""}])), "messages: text content blocks must be non-empty"),
        (_turns(("user", "hi"), ("assistant", "Sure ")), "final assistant content cannot end with trailing whitespace"),
        (_turns(("user", [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "42"}])),
         "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_x"),
        (_turns(("user", "hi"), ("assistant", [_CALL]), ("user", "and?")),
         "messages.2: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1"),
        ({**HELLO, "tools": [{"name": "f", "description": "none"}]}, "tools.0.custom.input_schema: Field required"),
        ({**HELLO, "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]},
         "Input tag 'function' found using 'type'"),
        ({**HELLO, "tools": [{"name": "f", "input_schema": {"type": "string"}}]},
         "tools.0.custom.input_schema.type: Input should be 'object'"),
        ({**HELLO, "tools": [TIME], "tool_choice": {"type": "tool", "name": "nope"}}, "Tool 'nope' not found"),
        (_turns(("user", [{"type": "image", "source": {
            "type": "base64", "media_type": "image/png", "data": f"data:image/png;base64,{PNG}"}}])),
         "messages.0.content.0.image.source.base64.data: invalid base64 data"),
        (_turns(("user", [{"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": PNG}}])),
         "media_type: Input should be 'image/jpeg'"),
        ({**HELLO, "max_tokens": 2000, "thinking": {"type": "enabled", "budget_tokens": 4000}},
         "`max_tokens` must be greater than `thinking.budget_tokens`"),
        ({**HELLO, "thinking": {"type": "adaptive"}, "temperature": 0.2},
         "`temperature` may only be set to 1 when thinking is enabled or in adaptive mode"),
        ({**HELLO, "thinking": {"type": "adaptive"}, "tools": [TIME], "tool_choice": {"type": "any"}},
         "Thinking may not be enabled when tool_choice forces tool use"),
        ({**HELLO, "stop_sequences": ["\n"]}, "stop_sequences: each stop sequence must contain non-whitespace"),
    ],
    ids=["no-max-tokens", "negative-max-tokens", "no-model", "unknown-field", "not-an-object", "temperature",
         "metadata", "no-messages", "tool-role", "developer-role", "system-image", "empty-content", "empty-text",
         "trailing-space", "unmatched-result", "unanswered-call", "no-input-schema", "openai-tool", "schema-not-object",
         "unknown-forced-tool", "data-url-image", "media-type", "thinking-budget", "thinking-temperature",
         "thinking-forced-tool", "whitespace-stop"],
)
async def test_invalid_requests_are_rejected_like_the_real_api(
    http: Callable[..., Any], body: Any, message: str
) -> None:
    status, headers, raw = await http(body)
    error = orjson.loads(raw)
    assert (status, error["type"], error["error"]["type"]) == (400, "error", "invalid_request_error")
    assert message in error["error"]["message"]
    assert headers["request-id"] == error["request_id"]


async def test_valid_conversations_the_checks_let_through(http: Callable[..., Any]) -> None:
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True,
              "content": [{"type": "text", "text": "city unknown"}]}
    thinking = {"type": "thinking", "thinking": "let me look", "signature": "c2ln"}
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}}
    body = _turns(
        ("user", [document, {"type": "text", "text": "Weather in Oslo?"}]),
        ("assistant", [thinking, {"type": "text", "text": "Checking."}, _CALL]),
        ("user", [result]),
        ("assistant", "So"),  # a prefill after the results: still answering them
    )
    web_search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}
    status, _, raw = await http({**body, "tools": [WEATHER, web_search], "temperature": 0.5})
    assert status == 200
    message = orjson.loads(raw)
    assert message["content"] == [{"type": "text", "text": "The tool returned: city unknown"}]
    assert message["stop_reason"] == "end_turn"


async def test_count_tokens_rejects_generation_fields(http: Callable[..., Any]) -> None:
    status, _, raw = await http(HELLO, path="/v1/messages/count_tokens")
    assert status == 400
    assert orjson.loads(raw)["error"]["message"] == "max_tokens: Extra inputs are not permitted"
    status, _, raw = await http({"model": MODEL, "messages": HELLO["messages"]}, path="/v1/messages/count_tokens")
    assert (status, orjson.loads(raw)) == (200, {"input_tokens": estimate_tokens("hello")})
