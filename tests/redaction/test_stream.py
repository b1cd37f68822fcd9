"""The restoring stream over a real inner stream (a cache replay): chunks restored, held tails flushed with the
finish chunk or at the end, tool-call fragments restored, the inner stream's hooks seeing placeholders only."""

from __future__ import annotations

import pytest

from switchyard.cache.replay import ReplayStream
from switchyard.errors import UpstreamUnavailableError
from switchyard.redaction import Vault
from switchyard.redaction.stream import RestoringStream
from switchyard.types import ChatChunk, ResponseMeta, ToolCallDelta, Usage


def chunk(text: str | None = None, **fields: object) -> ChatChunk:
    return ChatChunk(id="c", model="m", text=text, **fields)  # type: ignore[arg-type]


def vault() -> Vault:
    v = Vault()
    v.placeholder("EMAIL", "jo@example.com")
    v.placeholder("PHONE", "+44 20 7946 0958")
    return v


async def read(stream: RestoringStream) -> list[ChatChunk]:
    return [c async for c in stream]


async def test_chunks_are_restored_and_the_inner_stream_sees_placeholders() -> None:
    inner = ReplayStream([
        chunk("Mail <EM", role="assistant"), chunk("AIL_1> or call <PH"), chunk("ONE_1> today <"),
        chunk(finish_reason="stop"), chunk(usage=Usage(input_tokens=3, output_tokens=4)),
    ], ResponseMeta(deployment="d", provider="p"))
    seen: list[str] = []
    inner.on_chunk = lambda c: seen.append(c.text or "")
    outer = RestoringStream(inner, vault())
    chunks = await read(outer)
    assert "".join(c.text or "" for c in chunks) == "Mail jo@example.com or call +44 20 7946 0958 today <"
    assert chunks[0].role == "assistant"
    # The held "<" went out with the finish chunk; the usage chunk came through as it was.
    assert [c.text for c in chunks if c.finish_reason] == ["<"]
    assert chunks[-1].usage == Usage(input_tokens=3, output_tokens=4)
    assert outer.text == "Mail jo@example.com or call +44 20 7946 0958 today <"
    assert outer.completed
    assert outer.usage == Usage(input_tokens=3, output_tokens=4)
    assert outer.meta is inner.meta
    assert "jo@example.com" not in inner.text


async def test_a_chunk_held_entirely_is_skipped_and_a_cut_stream_flushes_at_the_end() -> None:
    inner = ReplayStream([chunk("Hi "), chunk("<EMA"), chunk("IL_1"), chunk(" and <PHO")], ResponseMeta(
        deployment="d", provider="p"
    ))
    chunks = await read(RestoringStream(inner, vault()))
    assert [c.text for c in chunks] == ["Hi ", "<EMAIL_1 and ", "<PHO"]


async def test_tool_call_fragments_are_restored_per_call() -> None:
    inner = ReplayStream([
        chunk(tool_calls=[ToolCallDelta(index=0, id="a", name="send", arguments='{"to": "<EMA')]),
        chunk(tool_calls=[ToolCallDelta(index=1, id="b", name="call", arguments='{"n": "<PHONE_1>"}')]),
        chunk(tool_calls=[ToolCallDelta(index=0, arguments='IL_1>"}')]),
        chunk(finish_reason="tool_calls"),
    ], ResponseMeta(deployment="d", provider="p"))
    chunks = await read(RestoringStream(inner, vault()))
    arguments: dict[int, str] = {}
    for c in chunks:
        for delta in c.tool_calls:
            arguments[delta.index] = arguments.get(delta.index, "") + delta.arguments
    assert arguments == {0: '{"to": "jo@example.com"}', 1: '{"n": "+44 20 7946 0958"}'}
    assert chunks[0].tool_calls[0].name == "send"


class _FailingReplay(ReplayStream):
    """A replay whose upstream then fails, as a provider that drops the connection mid-answer."""

    async def __anext__(self) -> ChatChunk:
        try:
            return await super().__anext__()
        except StopAsyncIteration:
            raise UpstreamUnavailableError("connection reset mid-stream") from None


async def test_a_failure_mid_stream_still_delivers_the_held_text_first() -> None:
    inner = _FailingReplay([chunk("Is a "), chunk("<"), chunk("EM")], ResponseMeta(deployment="d", provider="p"))
    outer = RestoringStream(inner, vault())
    received: list[str] = []

    async def consume() -> None:
        async for c in outer:
            received.append(c.text or "")

    with pytest.raises(UpstreamUnavailableError, match="mid-stream"):
        await consume()
    # "<EM" could have become <EMAIL_1>; it did not, and the client still gets every character the model wrote.
    assert "".join(received) == "Is a <EM"


async def test_closing_early_closes_the_inner_stream() -> None:
    closed: list[bool] = []
    inner = ReplayStream([chunk("a"), chunk("b")], ResponseMeta(deployment="d", provider="p"))
    inner.on_close = lambda stream, error: closed.append(error is None)
    outer = RestoringStream(inner, vault())
    assert (await outer.__anext__()).text == "a"
    await outer.aclose()
    assert closed == [True]
    assert not outer.completed
