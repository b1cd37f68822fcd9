"""Server-sent events reader shared by every adapter (OpenAI, Anthropic and Gemini all stream SSE)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import NamedTuple

__all__ = ["SSEEvent", "iter_sse"]


class SSEEvent(NamedTuple):
    event: str
    """The ``event:`` field; empty when the stream does not name events (OpenAI, Gemini)."""
    data: str


async def iter_sse(chunks: AsyncIterator[bytes]) -> AsyncIterator[SSEEvent]:
    """Parse a byte stream into events per the WHATWG SSE rules: ``\\n`` or ``\\r\\n`` line ends, multi-line
    ``data``, comments, and a blank line dispatching the event. A trailing event without its blank line is
    dropped, as the spec says: an upstream that cut the stream must not look complete."""
    buffer = b""
    event = ""
    data: list[bytes] = []
    async for chunk in chunks:
        buffer += chunk
        if b"\n" not in chunk:
            continue
        lines = buffer.split(b"\n")
        buffer = lines.pop()
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if not line:
                if data:
                    yield SSEEvent(event, b"\n".join(data).decode("utf-8", "replace"))
                event, data = "", []
                continue
            if line.startswith(b":"):
                continue
            name, _, value = line.partition(b":")
            if value.startswith(b" "):
                value = value[1:]
            if name == b"data":
                data.append(value)
            elif name == b"event":
                event = value.decode("utf-8", "replace")
