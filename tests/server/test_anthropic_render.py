"""Canonical answers, chunks and errors in Anthropic's wire shapes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchyard.errors import (
    AllAttemptsFailedError,
    BudgetExceededError,
    InvalidRequestError,
    MalformedResponseError,
    ModelNotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    SwitchyardError,
    UnauthorizedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from switchyard.server.anthropic_render import (
    MessageStream,
    error_type,
    message_id,
    render_error,
    render_message,
    render_stream_error,
)
from switchyard.types import (
    ChatChunk,
    ChatResponse,
    Choice,
    FinishReason,
    Message,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)


def response(message: Message, finish: FinishReason = "stop", usage: Usage | None = None) -> ChatResponse:
    return ChatResponse(id="chatcmpl-1", model="gpt-4o-mini", choices=[Choice(index=0, message=message,
                                                                             finish_reason=finish)], usage=usage)


def events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """SSE frames as (event name, data), checking that each frame's name is its data's ``type``."""
    out = []
    for frame in raw.decode().split("\n\n"):
        if not frame:
            continue
        name_line, data_line = frame.split("\n")
        name, data = name_line.removeprefix("event: "), orjson.loads(data_line.removeprefix("data: "))
        assert data["type"] == name
        out.append((name, data))
    return out


def test_text_answer() -> None:
    body = orjson.loads(render_message(
        response(Message.assistant("Hello."), usage=Usage(input_tokens=12, output_tokens=3, cached_tokens=4)), "fast"
    ))
    assert body == {
        "id": "msg_chatcmpl-1",
        "type": "message",
        "role": "assistant",
        "model": "fast",
        "content": [{"type": "text", "text": "Hello."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        # Anthropic's input_tokens leaves out cache reads; the canonical count includes them.
        "usage": {"input_tokens": 8, "cache_read_input_tokens": 4, "output_tokens": 3},
    }


def test_tool_calls_become_tool_use_blocks_with_parsed_input() -> None:
    message = Message(role="assistant", content=[TextPart("Let me check.")], tool_calls=[
        ToolCall(id="call_1", name="get_weather", arguments='{"city": "Oslo"}'),
        ToolCall(id="call_2", name="now", arguments=""),
    ])
    body = orjson.loads(render_message(response(message, "tool_calls"), "gpt"))
    assert body["content"] == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": "call_2", "name": "now", "input": {}},
    ]
    assert body["stop_reason"] == "tool_use"


def test_tool_arguments_that_are_not_an_object_fail_clearly() -> None:
    message = Message(role="assistant", tool_calls=[ToolCall(id="call_1", name="f", arguments="[1, 2")])
    with pytest.raises(MalformedResponseError, match="call_1"):
        render_message(response(message, "tool_calls"), "gpt")


def test_an_answer_without_choices_is_an_empty_message() -> None:
    # Some OpenAI-compatible servers answer "choices": []; that used to be an IndexError, a 500.
    empty = ChatResponse(id="chatcmpl-1", model="m", choices=[], usage=Usage(input_tokens=3))
    body = orjson.loads(render_message(empty, "gpt"))
    assert body["content"] == []
    assert body["stop_reason"] == "end_turn"
    assert body["usage"]["input_tokens"] == 3


def test_a_tool_call_cut_by_max_tokens_is_an_empty_input_not_an_error() -> None:
    message = Message(role="assistant", content=[TextPart("Checking.")],
                      tool_calls=[ToolCall(id="call_1", name="get_weather", arguments='{"city": "Os')])
    body = orjson.loads(render_message(response(message, "length"), "gpt"))
    assert body["stop_reason"] == "max_tokens"
    assert body["content"] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}},
    ]


@pytest.mark.parametrize(
    ("finish", "reason"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("content_filter", "refusal")],
)
def test_stop_reasons(finish: FinishReason, reason: str) -> None:
    body = orjson.loads(render_message(response(Message.assistant("x"), finish), "gpt"))
    assert body["stop_reason"] == reason


def test_empty_answer_has_no_blocks_and_unknown_usage_is_zero() -> None:
    body = orjson.loads(render_message(response(Message(role="assistant")), "gpt"))
    assert body["content"] == []
    assert body["usage"] == {"input_tokens": 0, "output_tokens": 0}


def test_message_ids_keep_anthropic_ids() -> None:
    assert message_id("msg_01abc") == "msg_01abc"
    assert message_id("chatcmpl-9") == "msg_chatcmpl-9"


def chunk(**fields: Any) -> ChatChunk:
    return ChatChunk(id="chatcmpl-1", model="gpt-4o-mini", **fields)


def test_stream_of_text() -> None:
    stream = MessageStream("fast")
    raw = stream.start("chatcmpl-1", input_tokens=9)
    for c in [chunk(role="assistant"), chunk(text="Hel"), chunk(text=""), chunk(text="lo"),
              chunk(finish_reason="stop"), chunk(usage=Usage(input_tokens=10, output_tokens=2))]:
        raw += stream.feed(c)
    raw += stream.finish()
    got = events(raw)
    assert [name for name, _ in got] == [
        "message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop",
    ]
    start = got[0][1]["message"]
    assert (start["id"], start["model"], start["content"], start["usage"]["input_tokens"]) == (
        "msg_chatcmpl-1", "fast", [], 9)
    assert got[2][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert [d["delta"]["text"] for n, d in got if n == "content_block_delta"] == ["Hel", "lo"]
    assert got[6][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 0, "output_tokens": 2},
    }


def test_stream_interleaving_text_and_tool_calls_numbers_blocks_in_order() -> None:
    stream = MessageStream("gpt")
    raw = stream.start("x")
    for c in [
        chunk(text="Checking "),
        chunk(text="both."),
        chunk(tool_calls=[ToolCallDelta(index=0, id="call_a", name="get_weather")]),
        chunk(tool_calls=[ToolCallDelta(index=0, arguments='{"city":')]),
        chunk(tool_calls=[ToolCallDelta(index=0, arguments='"Oslo"}')]),
        # Gemini-style: a whole call in one delta.
        chunk(tool_calls=[ToolCallDelta(index=1, id="call_b", name="get_weather", arguments='{"city":"Lima"}')]),
        chunk(text="Done."),
        chunk(finish_reason="tool_calls"),
    ]:
        raw += stream.feed(c)
    got = events(raw + stream.finish())
    starts = [(d["index"], d["content_block"]) for n, d in got if n == "content_block_start"]
    assert starts == [
        (0, {"type": "text", "text": ""}),
        (1, {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {}}),
        (2, {"type": "tool_use", "id": "call_b", "name": "get_weather", "input": {}}),
        (3, {"type": "text", "text": ""}),
    ]
    # Every block is closed before the next one opens.
    opened: list[int] = []
    for name, data in got:
        if name == "content_block_start":
            assert not opened
            opened.append(data["index"])
        elif name == "content_block_delta":
            assert opened == [data["index"]]
        elif name == "content_block_stop":
            assert opened == [data["index"]]
            opened.clear()
    json_by_block: dict[int, str] = {}
    for name, data in got:
        if name == "content_block_delta" and data["delta"]["type"] == "input_json_delta":
            json_by_block[data["index"]] = json_by_block.get(data["index"], "") + data["delta"]["partial_json"]
    assert {i: orjson.loads(s) for i, s in json_by_block.items()} == {1: {"city": "Oslo"}, 2: {"city": "Lima"}}
    assert got[-2][1]["delta"]["stop_reason"] == "tool_use"
    # No usage reached the stream: the final delta leaves message_start's count standing.
    assert got[-2][1]["usage"] == {"output_tokens": 0}


def test_stream_fragment_for_a_closed_tool_call_fails() -> None:
    stream = MessageStream("gpt")
    stream.feed(chunk(tool_calls=[ToolCallDelta(index=0, id="a", name="f")]))
    stream.feed(chunk(tool_calls=[ToolCallDelta(index=1, id="b", name="g")]))
    with pytest.raises(MalformedResponseError, match="tool call 0"):
        stream.feed(chunk(tool_calls=[ToolCallDelta(index=0, arguments="{}")]))


def test_stream_with_no_output_is_still_a_whole_message() -> None:
    stream = MessageStream("gpt")
    got = events(stream.start("x") + stream.finish())
    assert [n for n, _ in got] == ["message_start", "ping", "message_delta", "message_stop"]


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (InvalidRequestError("bad 'x'", param="x"), 400, "invalid_request_error"),
        (UnauthorizedError("invalid API key"), 401, "authentication_error"),
        (BudgetExceededError("over budget", budget="team", resets_at=None), 402, "billing_error"),
        (ModelNotFoundError("unknown model or route 'nope'"), 404, "not_found_error"),
        (PayloadTooLargeError("too big"), 413, "request_too_large"),
        (RateLimitedError("slow down"), 429, "rate_limit_error"),
        (AllAttemptsFailedError([MalformedResponseError("junk")]), 502, "api_error"),
        (AllAttemptsFailedError([UpstreamUnavailableError("down")]), 503, "overloaded_error"),
        (UpstreamTimeoutError("slow"), 504, "timeout_error"),
        (SwitchyardError("internal"), 500, "api_error"),
    ],
)
def test_errors_have_anthropic_shape_and_type_per_status(error: SwitchyardError, status: int, kind: str) -> None:
    assert error.status_code == status
    assert orjson.loads(render_error(error)) == {"type": "error", "error": {"type": kind, "message": error.message}}


def test_unlisted_statuses_fall_back_by_class() -> None:
    assert error_type(405) == "invalid_request_error"
    assert error_type(501) == "api_error"


def test_stream_error_is_an_error_event() -> None:
    got = events(render_stream_error(UpstreamUnavailableError("upstream went away")))
    assert got == [("error", {"type": "error", "error": {"type": "overloaded_error",
                                                          "message": "upstream went away"}})]
