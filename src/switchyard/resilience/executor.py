"""Running a plan: try each candidate in order until one answers.

An error that says another deployment could succeed (``UpstreamError.fallback``) moves on to the next
candidate; one that says the request itself is at fault (bad request, content refused) ends the walk at once.
A candidate that cannot honour the request (``UnsupportedFeatureError``) is skipped without a call.
Streams fall back only before their first chunk: after that the client has seen output.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from ..errors import (
    AllAttemptsFailedError,
    SwitchyardError,
    UnsupportedFeatureError,
    UpstreamError,
    UpstreamUnavailableError,
)
from ..providers.base import Deployment
from ..routing.plan import Plan
from ..types import Attempt, ChatChunk, ChatRequest, ChatResponse, ResponseMeta

__all__ = ["ChatStream", "Executor"]


class ChatStream:
    """An open upstream stream: iterate it for chunks; ``meta`` says who is answering."""

    def __init__(self, first: ChatChunk, rest: AsyncIterator[ChatChunk], meta: ResponseMeta) -> None:
        self._first: ChatChunk | None = first
        self._rest = rest
        self.meta = meta

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> ChatChunk:
        if self._first is not None:
            chunk, self._first = self._first, None
            return chunk
        return await self._rest.__anext__()

    async def aclose(self) -> None:
        """Stop reading and release the upstream connection."""
        aclose = getattr(self._rest, "aclose", None)
        if aclose is not None:
            await aclose()


class _Walk:
    """Bookkeeping for one walk over a plan's candidates."""

    __slots__ = ("attempts", "errors", "plan", "skipped")

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.attempts: list[Attempt] = []
        self.errors: list[UpstreamError] = []
        self.skipped: list[UnsupportedFeatureError] = []

    def failed(self, deployment: Deployment, exc: UpstreamError, started: float) -> None:
        self.errors.append(exc)
        self.attempts.append(
            Attempt(
                deployment=deployment.name,
                provider=deployment.provider,
                status=exc.status_code,
                error=f"{type(exc).__name__}: {exc.message}",
                latency_ms=(time.perf_counter() - started) * 1000,
            )
        )

    def meta(self, deployment: Deployment, started: float) -> ResponseMeta:
        self.attempts.append(
            Attempt(
                deployment=deployment.name,
                provider=deployment.provider,
                latency_ms=(time.perf_counter() - started) * 1000,
            )
        )
        return ResponseMeta(
            deployment=deployment.name, provider=deployment.provider, route=self.plan.route, attempts=self.attempts
        )

    def give_up(self) -> SwitchyardError:
        if not self.errors:
            return self.skipped[0]
        if len(self.errors) == 1:
            # One attempt: its own error (and status, e.g. 429 with Retry-After) says the most.
            return self.errors[0]
        return AllAttemptsFailedError(self.errors)


class Executor:
    async def chat(self, plan: Plan, request: ChatRequest) -> ChatResponse:
        walk = _Walk(plan)
        for deployment in plan.candidates:
            started = time.perf_counter()
            try:
                response = await deployment.chat(request)
            except UnsupportedFeatureError as exc:
                walk.skipped.append(exc)
                continue
            except UpstreamError as exc:
                walk.failed(deployment, exc, started)
                if not exc.fallback:
                    raise
                continue
            response.meta = walk.meta(deployment, started)
            return response
        raise walk.give_up()

    async def stream(self, plan: Plan, request: ChatRequest) -> ChatStream:
        walk = _Walk(plan)
        for deployment in plan.candidates:
            started = time.perf_counter()
            chunks = deployment.stream(request)
            try:
                first = await chunks.__anext__()
            except UnsupportedFeatureError as exc:
                walk.skipped.append(exc)
                continue
            except StopAsyncIteration:
                empty = UpstreamUnavailableError(
                    "upstream stream ended without any output", provider=deployment.provider, deployment=deployment.name
                )
                walk.failed(deployment, empty, started)
                continue
            except UpstreamError as exc:
                walk.failed(deployment, exc, started)
                if not exc.fallback:
                    raise
                continue
            return ChatStream(first, chunks, walk.meta(deployment, started))
        raise walk.give_up()
