"""The skeleton every simulated provider follows: parse the wire request into a :class:`Prompt`, consult the
fault injector, and render a reply, an error or a stream in that provider's wire format.

Subclasses implement ``parse``, ``render``, ``render_stream``, ``error`` and ``content_filtered``; the
request flow (auth, faults, latency, hangs, garbling, cut streams) lives here once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import orjson
from aiohttp import web

from .embeddings import EmbedJob
from .faults import Decision, FaultInjector
from .reply import Prompt, Reply, estimate_tokens, reply

__all__ = ["ErrorKind", "ProviderSim", "SimContext"]

ErrorKind = Literal[
    "invalid_request", "auth", "not_found", "rate_limit", "overloaded", "server", "context_length", "unavailable"
]

INVALID_KEYS = frozenset({"invalid", "invalid-key", "sk-invalid"})


class SimContext:
    """State shared by the simulated providers of one simulator: faults and request counts."""

    def __init__(self, faults: FaultInjector) -> None:
        self.faults = faults
        self.requests: Counter[str] = Counter()
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)


class ProviderSim(ABC):
    name: ClassVar[str]

    def __init__(self, context: SimContext) -> None:
        self.ctx = context

    @abstractmethod
    def routes(self) -> list[web.RouteDef]:
        """The aiohttp routes this provider serves."""

    @abstractmethod
    def api_key(self, request: web.Request) -> str | None:
        """The credential the request carries, wherever this provider puts it."""

    @abstractmethod
    def parse(self, data: Any, model: str) -> Prompt:
        """Wire request → prompt; raise ``ValueError`` with a message for malformed input."""

    @abstractmethod
    def render(self, result: Reply, prompt: Prompt, model: str, ident: int) -> dict[str, Any]:
        """A complete (non-streaming) response body."""

    @abstractmethod
    def render_stream(self, result: Reply, prompt: Prompt, model: str, ident: int) -> list[bytes]:
        """The SSE frames of a streaming response, terminator included."""

    @abstractmethod
    def error(self, kind: ErrorKind, status: int, message: str) -> tuple[int, dict[str, Any]]:
        """An error response in this provider's shape: (HTTP status, body)."""

    @abstractmethod
    def content_filtered(self, prompt: Prompt, model: str, ident: int, stream: bool) -> web.StreamResponse:
        """How this provider refuses content."""

    # -- shared flow --------------------------------------------------------------------------------------

    def error_response(
        self, kind: ErrorKind, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        code, body = self.error(kind, status, message)
        return web.Response(body=orjson.dumps(body), status=code, content_type="application/json", headers=headers)

    async def handle(
        self, request: web.Request, model: str, stream: bool, data: Any | None = None
    ) -> web.StreamResponse:
        if data is None:
            try:
                data = orjson.loads(await request.read())
            except orjson.JSONDecodeError:
                return self.error_response("invalid_request", 400, "request body is not valid JSON")
        decision = await self._gate(request, model)
        if not isinstance(decision, Decision):
            return decision
        try:
            prompt = self.parse(data, model)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # AttributeError: a JSON value of the wrong type where an object was expected (``"messages": ["hi"]``).
            return self.error_response("invalid_request", 400, f"invalid request: {exc}")
        window = decision.faults.context_window
        if decision.action == "context_length" or (window and estimate_tokens(prompt.all_text) > window):
            return self.error_response("context_length", 400, self.context_message(prompt, window or 0))
        ident = self.ctx.next_id()
        if decision.action == "content_filter":
            return self.content_filtered(prompt, model, ident, stream)
        result = reply(prompt, call_id=f"call_{ident:08d}", accuracy=decision.faults.accuracy)
        if not stream:
            body = orjson.dumps(self.render(result, prompt, model, ident))
            if decision.action == "garbled":
                body = body[: len(body) // 2]
            return web.Response(body=body, content_type="application/json")
        return await self._stream(request, self.render_stream(result, prompt, model, ident), decision)

    async def handle_embeddings(
        self, request: web.Request, model: str, data: Any, parse: Callable[[Any, str], EmbedJob],
        render: Callable[[EmbedJob, str], dict[str, Any]],
    ) -> web.StreamResponse:
        """An embeddings request through the same credentials check and faults as a chat request. A content filter
        does not apply; ``context_window`` bounds each input, as the providers' per-input limits do."""
        decision = await self._gate(request, model)
        if not isinstance(decision, Decision):
            return decision
        try:
            job = parse(data, model)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return self.error_response("invalid_request", 400, f"invalid request: {exc}")
        window = decision.faults.context_window
        if decision.action == "context_length" or (window and job.longest > window):
            message = f"This model's maximum context length is {window or 0} tokens; an input has about " \
                      f"{job.longest} tokens."
            return self.error_response("context_length", 400, message)
        body = orjson.dumps(render(job, model))
        if decision.action in ("garbled", "cut"):
            body = body[: len(body) // 2]
        return web.Response(body=body, content_type="application/json")

    async def _gate(self, request: web.Request, model: str) -> Decision | web.StreamResponse:
        """Credentials, counting and the fault injector's verdict: the failure to answer with, or the decision."""
        key = self.api_key(request)
        if not key:
            return self.error_response("auth", 401, "missing API key")
        if key in INVALID_KEYS:
            return self.error_response("auth", 401, "invalid API key")
        self.ctx.requests[f"{self.name}:{model}"] += 1
        decision = self.ctx.faults.decide(self.name, model, request.headers.get("x-sim-fault"))
        if decision.delay_s:
            await asyncio.sleep(decision.delay_s)
        failure = await self._failure(decision)
        return decision if failure is None else failure

    def context_message(self, prompt: Prompt, window: int) -> str:
        return f"This model's maximum context length is {window} tokens; the prompt has about " \
               f"{estimate_tokens(prompt.all_text)} tokens."

    async def _failure(self, decision: Decision) -> web.StreamResponse | None:
        action = decision.action
        if action == "hang":
            await asyncio.sleep(decision.faults.hang_s)
            return self.error_response("server", 500, "simulated hang ended")
        if action == "error":
            status = decision.status or 500
            kind: ErrorKind = "unavailable" if status == 503 else "server"
            return self.error_response(kind, status, f"simulated upstream error ({status})")
        if action == "rate_limit":
            retry = decision.faults.retry_after_s
            return self.error_response(
                "rate_limit", 429, "simulated rate limit", headers={"retry-after": f"{retry:g}"}
            )
        if action == "overloaded":
            return self.error_response("overloaded", 503, "simulated overload")
        if action == "auth":
            return self.error_response("auth", 401, "invalid API key")
        return None

    async def _stream(self, request: web.Request, frames: list[bytes], decision: Decision) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream", "cache-control": "no-cache"})
        await response.prepare(request)
        # The client may go away mid-stream (a gateway cancelling a hedge, a test closing early): not an error.
        with contextlib.suppress(ConnectionResetError):
            await self._write_frames(request, response, frames, decision)
        return response

    async def _write_frames(
        self, request: web.Request, response: web.StreamResponse, frames: list[bytes], decision: Decision
    ) -> None:
        faults = decision.faults
        for i, frame in enumerate(frames):
            if decision.action == "cut" and i >= faults.cut_after_chunks:
                # A dropped connection, not a clean end: the client must see a broken body.
                if request.transport is not None:
                    request.transport.abort()
                return
            if decision.action == "garbled" and i == min(1, len(frames) - 1):
                frame = b"data: {\"garbled\": \n\n"
            await response.write(frame)
            if i:
                delay = self.ctx.faults.chunk_delay(faults)
                if delay:
                    await asyncio.sleep(delay)
        await response.write_eof()


def sse(data: Any, event: str | None = None) -> bytes:
    """One SSE frame carrying JSON."""
    payload = orjson.dumps(data)
    if event:
        return b"event: " + event.encode() + b"\ndata: " + payload + b"\n\n"
    return b"data: " + payload + b"\n\n"
