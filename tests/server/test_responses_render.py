"""Canonical answers → Responses API objects and stream events, validated by the official SDK's own models
(pydantic validation, stricter than the SDK's parsing) and replayed through its stream accumulator."""

from __future__ import annotations

from typing import Any

import orjson
import pydantic
import pytest
from openai import omit
from openai.lib.streaming.responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent

from switchyard import (
    ChatChunk,
    ChatResponse,
    Choice,
    Message,
    RateLimitedError,
    ResponseMeta,
    ToolCall,
    ToolCallDelta,
    UpstreamUnavailableError,
    Usage,
)
from switchyard.server.responses_ingress import ResponsesRequest, parse_responses_request
from switchyard.server.responses_render import ResponseEvents, render_response

EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
TOOL = {"type": "function", "name": "w", "parameters": {"type": "object"}, "strict": True}


def request(**body: Any) -> ResponsesRequest:
    body.setdefault("model", "my-route")
    body.setdefault("input", "hi")
    return parse_responses_request(orjson.dumps(body))


def answer(message: Message, finish: str = "stop", cost: float | None = 0.25) -> ChatResponse:
    meta = ResponseMeta(deployment="gpt", provider="openai", cost_usd=cost)
    return ChatResponse(
        id="chatcmpl-1",
        model="gpt-4o-mini",
        choices=[Choice(index=0, message=message, finish_reason=finish)],  # type: ignore[arg-type]
        usage=Usage(input_tokens=10, output_tokens=4, cached_tokens=3, reasoning_tokens=1),
        created=1_700_000_000,
        meta=meta,
    )


def rendered(req: ResponsesRequest, response: ChatResponse) -> tuple[dict[str, Any], Response]:
    data = orjson.loads(render_response(req, response, "abc"))
    return data, Response.model_validate(data)


def test_text_answer_is_a_valid_response_object() -> None:
    data, response = rendered(request(instructions="Be brief.", metadata={"team": "a", "tags": "x"}, user="u"),
                              answer(Message.assistant("Hello!")))
    assert response.id == "resp_abc"
    assert response.status == "completed"
    assert response.model == "my-route"
    assert response.output_text == "Hello!"
    assert response.output[0].id == "msg_abc"
    assert response.instructions == "Be brief."
    assert response.metadata == {"team": "a"}
    assert response.user == "u"
    assert response.created_at == 1_700_000_000
    assert response.completed_at is not None
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (10, 4, 14)
    assert response.usage.input_tokens_details.cached_tokens == 3
    assert response.usage.output_tokens_details.reasoning_tokens == 1
    assert data["usage"]["cost_usd"] == 0.25
    assert data["store"] is False
    assert data["reasoning"] == {"effort": None, "summary": None}


def test_unknown_cost_stays_null() -> None:
    data, _ = rendered(request(), answer(Message.assistant("x"), cost=None))
    assert data["usage"]["cost_usd"] is None


def test_tool_calls_become_function_call_items_after_the_text() -> None:
    message = Message(role="assistant", content=Message.assistant("Checking.").content,
                      tool_calls=[ToolCall("call_1", "w", '{"city":"Oslo"}'), ToolCall("call_2", "w", "{}")])
    req = request(tools=[TOOL], tool_choice={"type": "function", "name": "w"}, parallel_tool_calls=True)
    _, response = rendered(req, answer(message, "tool_calls"))
    text, first, second = response.output
    assert text.type == "message"
    assert (first.type, first.id, first.call_id, first.name, first.arguments) == (  # type: ignore[union-attr]
        "function_call", "fc_abc_0", "call_1", "w", '{"city":"Oslo"}')
    assert (second.id, second.call_id) == ("fc_abc_1", "call_2")  # type: ignore[union-attr]
    assert response.status == "completed"
    assert response.tools[0].name == "w"  # type: ignore[union-attr]
    assert response.tools[0].strict is True  # type: ignore[union-attr]
    assert response.tool_choice.name == "w"  # type: ignore[union-attr]


def test_only_calls_means_no_message_item() -> None:
    message = Message(role="assistant", tool_calls=[ToolCall("call_1", "w", "{}")])
    _, response = rendered(request(tools=[TOOL]), answer(message, "tool_calls"))
    assert [item.type for item in response.output] == ["function_call"]
    assert response.output_text == ""


@pytest.mark.parametrize(("finish", "reason"), [("length", "max_output_tokens"), ("content_filter", "content_filter")])
def test_cut_answers_are_incomplete(finish: str, reason: str) -> None:
    _, response = rendered(request(max_output_tokens=4), answer(Message.assistant("Hel"), finish))
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == reason
    assert response.output[0].status == "incomplete"  # type: ignore[union-attr]
    assert response.max_output_tokens == 4
    assert response.completed_at is None


def test_json_schema_format_is_echoed() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    req = request(text={"format": {"type": "json_schema", "name": "thing", "schema": schema, "strict": True}})
    _, response = rendered(req, answer(Message.assistant('{"a": 1}')))
    assert response.text is not None
    assert response.text.format is not None
    assert response.text.format.type == "json_schema"
    assert response.text.format.schema_ == schema


def sse(body: bytes) -> list[dict[str, Any]]:
    """Parse SSE frames, checking that each ``event:`` line names its data's type."""
    events = []
    for frame in body.decode().split("\n\n"):
        if not frame:
            continue
        event_line, data_line = frame.split("\n")
        data = orjson.loads(data_line.removeprefix("data: "))
        assert event_line == f"event: {data['type']}"
        events.append(data)
    return events


def replay(req: ResponsesRequest, chunks: list[ChatChunk], cost: float | None = 0.5) -> list[dict[str, Any]]:
    events = ResponseEvents(req, "abc", 1_700_000_000)
    body = events.start() + b"".join(events.chunk(c) for c in chunks) + events.finish_events(cost)
    return sse(body)


def accumulate(events: list[dict[str, Any]], tools: Any = omit) -> Any:
    """Feed the events through the SDK's own stream state, as ``client.responses.stream`` does."""
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=tools, text_format=omit)
    for event in events:
        state.handle_event(EVENTS.validate_python(event))
    return state._completed_response


def test_text_stream_is_the_semantic_event_sequence() -> None:
    chunks = [
        ChatChunk(id="c", model="m", role="assistant", text=""),
        ChatChunk(id="c", model="m", text="Hello "),
        ChatChunk(id="c", model="m", text="world"),
        ChatChunk(id="c", model="m", finish_reason="stop"),
        ChatChunk(id="c", model="m", usage=Usage(input_tokens=5, output_tokens=2)),
    ]
    events = replay(request(), chunks)
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[6]["text"] == "Hello world"
    completed = events[-1]["response"]
    assert completed["usage"]["total_tokens"] == 7
    assert completed["usage"]["cost_usd"] == 0.5
    final = accumulate(events)
    assert final.output_text == "Hello world"
    assert final.id == "resp_abc"
    assert final.status == "completed"


def test_streamed_tool_calls_reassemble_in_the_sdk() -> None:
    chunks = [
        ChatChunk(id="c", model="m", role="assistant", text="Let me check. "),
        ChatChunk(id="c", model="m", tool_calls=[ToolCallDelta(index=0, id="call_1", name="w", arguments="")]),
        ChatChunk(id="c", model="m", tool_calls=[ToolCallDelta(index=0, arguments='{"ci')]),
        ChatChunk(id="c", model="m", tool_calls=[ToolCallDelta(index=0, arguments='ty":"Oslo"}')]),
        ChatChunk(id="c", model="m", tool_calls=[ToolCallDelta(index=1, id="call_2", name="w", arguments="{}")]),
        ChatChunk(id="c", model="m", finish_reason="tool_calls", usage=Usage(input_tokens=5, output_tokens=9)),
    ]
    events = replay(request(tools=[TOOL]), chunks)
    kinds = [e["type"] for e in events]
    assert kinds.count("response.output_item.added") == 3
    assert kinds.count("response.function_call_arguments.delta") == 3
    assert kinds.count("response.function_call_arguments.done") == 2
    assert kinds[-1] == "response.completed"
    final = accumulate(events, tools=[TOOL])
    message, first, second = final.output
    assert message.content[0].text == "Let me check. "
    assert (first.call_id, first.arguments, first.parsed_arguments) == ("call_1", '{"city":"Oslo"}', {"city": "Oslo"})
    assert (second.call_id, second.arguments) == ("call_2", "{}")
    assert [e["output_index"] for e in events if e["type"] == "response.output_item.done"] == [0, 1, 2]


def test_empty_answer_is_an_empty_message() -> None:
    events = replay(request(), [ChatChunk(id="c", model="m", role="assistant", finish_reason="stop")])
    final = accumulate(events)
    assert final.output_text == ""
    assert [item.type for item in final.output] == ["message"]


def test_length_stream_ends_with_response_incomplete() -> None:
    chunks = [ChatChunk(id="c", model="m", text="Hel"), ChatChunk(id="c", model="m", finish_reason="length")]
    events = replay(request(max_output_tokens=1), chunks)
    last = EVENTS.validate_python(events[-1])
    assert last.type == "response.incomplete"
    assert last.response.incomplete_details.reason == "max_output_tokens"
    assert last.response.output[0].status == "incomplete"


def test_other_choices_are_not_rendered() -> None:
    chunks = [ChatChunk(id="c", model="m", text="first"), ChatChunk(id="c", model="m", index=1, text="second")]
    assert accumulate(replay(request(), chunks)).output_text == "first"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UpstreamUnavailableError("connection reset", provider="openai", deployment="gpt"), "server_error"),
        (RateLimitedError("slow down", provider="openai", deployment="gpt"), "rate_limit_exceeded"),
    ],
)
def test_failure_is_an_error_event_then_response_failed(error: Exception, code: str) -> None:
    events = ResponseEvents(request(), "abc", 1_700_000_000)
    body = events.start() + events.chunk(ChatChunk(id="c", model="m", text="partial "))
    body += events.failure_events(error)  # type: ignore[arg-type]
    parsed = sse(body)
    for event in parsed:
        EVENTS.validate_python(event)
    error_event, failed = parsed[-2:]
    assert error_event["type"] == "error"
    assert error_event["message"] == error.message  # type: ignore[attr-defined]
    assert failed["type"] == "response.failed"
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"]["code"] == code
    assert failed["response"]["output"][0]["content"][0]["text"] == "partial "
    assert failed["response"]["output"][0]["status"] == "incomplete"
    assert [e["sequence_number"] for e in parsed] == list(range(len(parsed)))
