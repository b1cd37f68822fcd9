"""Streams into the cache and back: recording, playback, and the stream ⇄ plain answer conversions."""

from __future__ import annotations

from typing import Any

from switchyard.cache.replay import Recorder, ReplayStream, chunks_of, response_of
from switchyard.types import (
    ChatChunk,
    ChatResponse,
    Choice,
    Message,
    ResponseMeta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)


def chunk(**fields: Any) -> ChatChunk:
    return ChatChunk(id="chatcmpl-9", model="gpt-4o-mini", created=1700000000, **fields)


def streamed() -> list[ChatChunk]:
    return [
        chunk(role="assistant", text="Hel"),
        chunk(text="lo"),
        chunk(tool_calls=[ToolCallDelta(index=0, id="call_1", name="lookup", arguments='{"q":')]),
        chunk(tool_calls=[ToolCallDelta(index=0, arguments='"x"}')]),
        chunk(finish_reason="tool_calls"),
        chunk(usage=Usage(input_tokens=4, output_tokens=6)),
    ]


def test_a_stream_joins_into_the_answer_it_streamed() -> None:
    response = response_of(streamed())
    assert (response.id, response.model, response.created) == ("chatcmpl-9", "gpt-4o-mini", 1700000000)
    assert response.text == "Hello"
    assert response.message.tool_calls == [ToolCall("call_1", "lookup", '{"q":"x"}')]
    assert response.choices[0].finish_reason == "tool_calls"
    assert response.usage == Usage(input_tokens=4, output_tokens=6)


def test_a_plain_answer_splits_into_a_stream_that_joins_back() -> None:
    response = ChatResponse(
        id="chatcmpl-2", model="m", created=5, usage=Usage(input_tokens=1, output_tokens=2),
        choices=[
            Choice(index=0, message=Message(role="assistant", content=[TextPart("A")],
                                            tool_calls=[ToolCall("c", "f", "{}")]), finish_reason="stop"),
            Choice(index=1, message=Message.assistant("B"), finish_reason="length"),
        ],
    )
    again = response_of(chunks_of(response))
    assert again == response


async def test_playback_yields_the_chunks_and_reports_closing_once() -> None:
    closed: list[BaseException | None] = []
    meta = ResponseMeta(deployment="gpt", provider="openai", cache="hit")
    stream = ReplayStream(streamed(), meta)
    stream.on_close = lambda s, error: closed.append(error)
    chunks = [chunk async for chunk in stream]
    await stream.aclose()
    assert chunks == streamed()
    assert (stream.text, stream.usage, stream.completed, stream.meta.cache) == (
        "Hello", Usage(input_tokens=4, output_tokens=6), True, "hit")
    assert closed == [None]


def test_the_recorder_gives_up_beyond_its_limit() -> None:
    recorder = Recorder(limit=1000)
    for chunk in streamed():
        recorder(chunk)
    assert recorder.chunks == streamed()
    small = Recorder(limit=200)
    for chunk in streamed():
        small(chunk)
    assert small.chunks is None
