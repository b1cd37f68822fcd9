"""Streams into the cache and back out: record a stream as the client reads it, play a cached answer back as a
stream, and convert between the two shapes (the key ignores ``stream``, so a stream may answer a plain request
and the other way round)."""

from __future__ import annotations

import time

from ..resilience.stream import ChatStream
from ..types import ChatChunk, ChatResponse, Choice, Message, ResponseMeta, TextPart, ToolCall, ToolCallDelta

__all__ = ["Recorder", "ReplayStream", "chunks_of", "response_of"]

_CHUNK_OVERHEAD = 64
"""Approximate encoded bytes of a chunk beyond its text (ids, model name, field tags)."""


class Recorder:
    """Collects a stream's chunks (``ChatStream.on_chunk``) up to ``limit`` approximate bytes; beyond that it
    gives up, since the entry would be too large to store anyway."""

    __slots__ = ("chunks", "limit", "size")

    def __init__(self, limit: int) -> None:
        self.chunks: list[ChatChunk] | None = []
        self.limit = limit
        self.size = 0

    def __call__(self, chunk: ChatChunk) -> None:
        if self.chunks is None:
            return
        self.size += len(chunk.text or "") + _CHUNK_OVERHEAD
        for call in chunk.tool_calls:
            self.size += len(call.arguments)
        if self.size > self.limit:
            self.chunks = None
            return
        self.chunks.append(chunk)


class ReplayStream(ChatStream):
    """A cached answer played back as a stream. It is a :class:`ChatStream`, so whatever serves streams (the
    server's SSE writer, library callers) serves it unchanged; it has no upstream, so it deliberately does not
    set up the base's connection, continuation and health bookkeeping."""

    def __init__(self, chunks: list[ChatChunk], meta: ResponseMeta) -> None:
        self.meta = meta
        self.usage = None
        self.on_close = None
        self.on_chunk = None
        self._replay = iter(chunks)
        self._text: list[str] = []
        self._closed = False
        self._done = False

    async def __anext__(self) -> ChatChunk:
        chunk = next(self._replay, None)
        if chunk is None:
            self._done = True
            self._close(None)
            raise StopAsyncIteration
        if chunk.text:
            self._text.append(chunk.text)
        if chunk.usage is not None:
            self.usage = chunk.usage
        return chunk

    async def aclose(self) -> None:
        self._close(None)


def chunks_of(response: ChatResponse) -> list[ChatChunk]:
    """A plain answer as a stream: per choice, one chunk with the whole message, one with the finish reason; then
    the usage, as providers send it."""
    rid, model, created = response.id, response.model, response.created
    chunks: list[ChatChunk] = []
    for choice in response.choices:
        message = choice.message
        calls = [ToolCallDelta(index=i, id=c.id, name=c.name, arguments=c.arguments)
                 for i, c in enumerate(message.tool_calls)]
        chunks.append(ChatChunk(
            id=rid, model=model, created=created, index=choice.index, role="assistant", text=message.text or None,
            tool_calls=calls,
        ))
        chunks.append(
            ChatChunk(id=rid, model=model, created=created, index=choice.index, finish_reason=choice.finish_reason)
        )
    if response.usage is not None:
        chunks.append(ChatChunk(id=rid, model=model, created=created, usage=response.usage))
    return chunks


def response_of(chunks: list[ChatChunk]) -> ChatResponse:
    """A recorded stream as a plain answer: text and tool-call fragments joined per choice."""
    texts: dict[int, list[str]] = {}
    calls: dict[int, dict[int, list[str]]] = {}
    finish: dict[int, ChatChunk] = {}
    usage = None
    for chunk in chunks:
        if chunk.usage is not None:
            usage = chunk.usage
        if chunk.role is None and chunk.text is None and not chunk.tool_calls and chunk.finish_reason is None:
            continue
        texts.setdefault(chunk.index, [])
        if chunk.text:
            texts[chunk.index].append(chunk.text)
        for delta in chunk.tool_calls:
            call = calls.setdefault(chunk.index, {}).setdefault(delta.index, ["", "", ""])
            call[0] = call[0] or delta.id or ""
            call[1] = call[1] or delta.name or ""
            call[2] += delta.arguments
        if chunk.finish_reason is not None:
            finish[chunk.index] = chunk
    choices = [
        Choice(
            index=index,
            message=Message(
                role="assistant",
                content=[TextPart("".join(parts))] if parts else [],
                tool_calls=[ToolCall(id, name, args) for _, (id, name, args) in sorted(calls.get(index, {}).items())],
            ),
            finish_reason=finish[index].finish_reason if index in finish else None,
        )
        for index, parts in sorted(texts.items())
    ]
    first = chunks[0] if chunks else None
    return ChatResponse(
        id=first.id if first else "",
        model=first.model if first else "",
        choices=choices,
        usage=usage,
        created=first.created if first and first.created else int(time.time()),
    )
