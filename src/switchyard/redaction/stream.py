"""A stream whose chunks reach the client with the originals restored.

It wraps the stream the gateway opened (or a cache replay) and keeps its interface, so the server's writers and
library callers serve it unchanged. The wrapped stream keeps its own hooks: the cache's recorder and the
gateway's accounting see the chunks as the provider sent them, with placeholders, so neither the cache nor a
logged body ever holds the originals.
"""

from __future__ import annotations

import msgspec

from ..errors import SwitchyardError
from ..resilience.stream import ChatStream
from ..types import ChatChunk, ToolCallDelta
from .restore import StreamRestorer
from .vault import Vault

__all__ = ["RestoringStream"]

_TEXT = -1
"""The key index of a choice's text, beside its tool calls' indices."""


class RestoringStream(ChatStream):
    """``inner``'s chunks with placeholders restored. ``text`` is what the client received."""

    def __init__(self, inner: ChatStream, vault: Vault) -> None:
        # Deliberately not the base initialiser: the upstream connection, continuation and health bookkeeping
        # belong to ``inner``.
        self.meta = inner.meta
        self.usage = inner.usage
        self.on_close = None
        self.on_chunk = None
        self._inner = inner
        self._restorer = StreamRestorer(vault)
        self._leftover: list[ChatChunk] = []
        self._last: ChatChunk | None = None
        self._text: list[str] = []
        self._closed = False
        self._done = False
        self._failure: SwitchyardError | None = None

    async def __anext__(self) -> ChatChunk:
        while True:
            if self._leftover:
                return self._emit(self._leftover.pop(0))
            if self._failure is not None:
                failure, self._failure = self._failure, None
                raise failure
            try:
                chunk = await self._inner.__anext__()
            except StopAsyncIteration:
                self._leftover = self._drain()
                if self._leftover:
                    continue
                self._done = self._inner.completed
                self._close(None)
                raise
            except SwitchyardError as exc:
                # A failure mid-stream: the text held back is still the model's and goes out before the error.
                self._leftover = self._drain()
                if not self._leftover:
                    raise
                self._failure = exc
                continue
            self.usage = self._inner.usage
            self._last = chunk
            restored = self._restore(chunk)
            if restored is not None:
                return self._emit(restored)

    def _emit(self, chunk: ChatChunk) -> ChatChunk:
        if chunk.text:
            self._text.append(chunk.text)
        if self.on_chunk is not None:
            self.on_chunk(chunk)
        return chunk

    def _restore(self, chunk: ChatChunk) -> ChatChunk | None:
        """The chunk restored; ``None`` when everything it carried is held back and nothing else is in it."""
        restorer, index = self._restorer, chunk.index
        text = restorer.feed((index, _TEXT), chunk.text) if chunk.text else chunk.text
        calls = chunk.tool_calls
        if calls:
            calls = [
                msgspec.structs.replace(d, arguments=restorer.feed((index, d.index), d.arguments, json=True))
                if d.arguments else d
                for d in calls
            ]
        if chunk.finish_reason is not None:
            # The choice is over: whatever it held back was not a placeholder and goes out now.
            for key in restorer.held(index):
                if key[1] == _TEXT:
                    text = (text or "") + restorer.flush(key)
                else:
                    calls = [*calls, ToolCallDelta(index=key[1], arguments=restorer.flush(key))]
        if text == chunk.text and calls is chunk.tool_calls:
            return chunk
        if not text and not calls and chunk.role is None and chunk.finish_reason is None and chunk.usage is None:
            return None
        return msgspec.structs.replace(chunk, text=text or None, tool_calls=calls)

    def _drain(self) -> list[ChatChunk]:
        """A stream that ended or failed without finishing a choice: its held tails, as closing chunks."""
        last = self._last
        if last is None:
            return []
        chunks = []
        for index, part in self._restorer.held():
            tail = self._restorer.flush((index, part))
            if part == _TEXT:
                chunks.append(ChatChunk(id=last.id, model=last.model, created=last.created, index=index, text=tail))
            else:
                chunks.append(ChatChunk(
                    id=last.id, model=last.model, created=last.created, index=index,
                    tool_calls=[ToolCallDelta(index=part, arguments=tail)],
                ))
        return chunks

    async def aclose(self) -> None:
        await self._inner.aclose()
        self._close(None)
