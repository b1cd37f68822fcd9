"""An open stream, after the walk found a deployment that sent its first chunk.

A failure from here on is after output reached the client. By default the stream ends with that error (the server
turns it into an OpenAI error event). With ``stream_continue`` on the route, a text-only answer is continued on
the next candidate instead: it receives the partial answer as an assistant prefix and its continuation is spliced
in, so the client reads one answer.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec

from ..errors import UpstreamError
from ..providers.base import Deployment
from ..types import Attempt, ChatChunk, ResponseMeta, Usage

if TYPE_CHECKING:
    from .executor import Executor

__all__ = ["ChatStream", "Opened"]


@dataclass(slots=True)
class Opened:
    deployment: Deployment
    first: ChatChunk
    chunks: AsyncGenerator[ChatChunk, None]
    started: float


class ChatStream:
    """Iterate it for chunks; ``meta`` says who is answering (and, after a continuation, who took over)."""

    def __init__(
        self,
        opened: Opened,
        meta: ResponseMeta,
        executor: Executor,
        resume: Callable[[Deployment, str], Awaitable[Opened]] | None = None,
    ) -> None:
        self.meta = meta
        self._opened = opened
        self._pending: ChatChunk | None = opened.first
        self._executor = executor
        self._resume = resume
        self._text: list[str] = []
        self._continuable = True
        self._done = False
        self._trim = False
        self.usage: Usage | None = None
        self.on_close: Callable[[ChatStream, BaseException | None], None] | None = None
        """Called once when the stream ends, fails or is closed early (accounting hooks in here)."""
        self.on_chunk: Callable[[ChatChunk], None] | None = None
        """Called with every chunk as the reader gets it (the response cache records streams this way)."""
        self._closed = False

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> ChatChunk:
        if self._pending is not None:
            chunk, self._pending = self._pending, None
            return self._seen(chunk)
        try:
            chunk = await self._opened.chunks.__anext__()
        except StopAsyncIteration:
            self._finished()
            self._close(None)
            raise
        except UpstreamError as exc:
            await self._broken(exc)
            if self._resume is None or not self._continuable:
                self._close(exc)
                raise
            partial = "".join(self._text)
            try:
                # Anthropic rejects a final assistant turn ending in whitespace; the prefix goes without it, and
                # the whitespace the continuation starts with is dropped, since the client already has it.
                opened = await self._resume(self._opened.deployment, partial.rstrip())
            except UpstreamError:
                self._close(exc)
                raise exc from None
            self._trim = partial != partial.rstrip()
            self._opened = opened
            self.meta.attempts.append(Attempt(deployment=opened.deployment.name, provider=opened.deployment.provider))
            # The client already has the role; the continuation's first chunk carries only what follows.
            chunk = msgspec.structs.replace(opened.first, role=None)
        return self._seen(chunk)

    def _seen(self, chunk: ChatChunk) -> ChatChunk:
        if self._trim and chunk.text:
            text = chunk.text.lstrip()
            self._trim = not text
            chunk = msgspec.structs.replace(chunk, text=text)
        if chunk.text:
            self._text.append(chunk.text)
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.tool_calls or chunk.index:
            # Half a tool call, or one of several choices, cannot be continued as a text prefix.
            self._continuable = False
        if self.on_chunk is not None:
            self.on_chunk(chunk)
        return chunk

    def _finished(self) -> None:
        if not self._done:
            self._done = True
            ms = (time.perf_counter() - self._opened.started) * 1000
            self._executor.health.success(self._opened.deployment.name, ms)

    async def _broken(self, exc: UpstreamError) -> None:
        name = self._opened.deployment.name
        self.meta.attempts.append(Attempt(
            deployment=name, provider=self._opened.deployment.provider, status=exc.status_code,
            error=f"{type(exc).__name__} mid-stream: {exc.message}",
        ))
        self._executor.health.failure(name, exc.message, type(exc).__name__)
        await self._executor.breaker.judge(name, exc, context=" mid-stream")

    @property
    def completed(self) -> bool:
        """The stream reached its normal end (not cut off, failed or closed early)."""
        return self._done

    @property
    def text(self) -> str:
        """Everything streamed so far."""
        return "".join(self._text)

    def _close(self, error: BaseException | None) -> None:
        if not self._closed:
            self._closed = True
            if self.on_close is not None:
                self.on_close(self, error)

    async def aclose(self) -> None:
        """Stop reading and release the upstream connection."""
        await self._opened.chunks.aclose()
        self._close(None)
