"""HTTP plumbing shared by every ingress (OpenAI chat, Anthropic messages, Responses, embeddings).

One :class:`Call` per exchange carries the ASGI triple, the request id and how errors are rendered, so an ingress
module only parses its wire format and renders its answers; authentication, body limits, the response headers
that say what the gateway did and client-disconnect handling live here once.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, TypeVar

import msgspec
import orjson

from ..errors import (
    InvalidRequestError,
    LimitExceededError,
    PayloadTooLargeError,
    RateLimitedError,
    RequestError,
    SwitchyardError,
)
from ..routing.decisions import explain
from ..types import ChatRequest, ResponseMeta
from .openai_render import render_error

__all__ = [
    "JSON",
    "SSE_HEADERS",
    "Call",
    "ErrorRenderer",
    "Headers",
    "NotFoundError",
    "Receive",
    "Scope",
    "Send",
    "answer_headers",
    "check_tool_choice",
    "convert_body",
    "json_object",
    "meta_headers",
    "read_body",
    "run_until_disconnect",
    "secret_of",
    "send_raw",
    "usd",
    "validation_message",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]
ErrorRenderer = Callable[[SwitchyardError], bytes]
T = TypeVar("T")

_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")
JSON = (b"content-type", b"application/json")
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class NotFoundError(RequestError):
    status_code = 404
    error_type = "not_found_error"


class Call:
    """One HTTP exchange: the ASGI triple plus the request id.

    ``render_error`` turns an error into the body the client's SDK expects: OpenAI's shape unless the ingress
    that took the request sets its own (Anthropic's ``{"type": "error", ...}``)."""

    __slots__ = ("id_headers", "receive", "render_error", "request_id", "scope", "send", "started")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self.started = False
        self.render_error: ErrorRenderer = render_error
        self.id_headers: tuple[bytes, ...] = (b"x-request-id",)
        """Response headers that carry the request id (Anthropic's SDKs read ``request-id``)."""
        self.request_id = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id" and _REQUEST_ID.match(value):
                self.request_id = value
                break
        if not self.request_id:
            # 128 random bits as 32 hex digits, like uuid4().hex but without its getrandom() system call per
            # request. A correlation id, not a secret; the random module reseeds itself in forked workers.
            self.request_id = b"%032x" % random.getrandbits(128)

    async def respond(self, status: int, body: bytes, headers: Headers | None = None) -> None:
        # With a length the server sends the body as is; without one it frames it as a chunked stream.
        out: Headers = [JSON, (b"content-length", b"%d" % len(body))]
        out.extend((name, self.request_id) for name in self.id_headers)
        if headers:
            out.extend(headers)
        self.started = True
        await self.send({"type": "http.response.start", "status": status, "headers": out})
        await self.send({"type": "http.response.body", "body": body})

    async def respond_error(self, exc: SwitchyardError) -> None:
        headers: Headers = []
        if isinstance(exc, RateLimitedError | LimitExceededError) and exc.retry_after is not None:
            headers.append((b"retry-after", str(max(1, round(exc.retry_after))).encode()))
        await self.respond(exc.status_code, self.render_error(exc), headers)

    async def start_stream(self, headers: Headers) -> None:
        """Send a 200 event-stream head; from here on errors can only travel inside the stream."""
        self.started = True
        out = [*SSE_HEADERS, *((name, self.request_id) for name in self.id_headers), *headers]
        await self.send({"type": "http.response.start", "status": 200, "headers": out})

    async def send_chunk(self, body: bytes, *, last: bool = False) -> None:
        await self.send({"type": "http.response.body", "body": body, "more_body": not last})


def validation_message(
    exc: msgspec.ValidationError, hints: Sequence[tuple[re.Pattern[str], str]] = ()
) -> tuple[str, str | None]:
    """msgspec's validation error as a client message and the ``param`` it names (``messages[0].role``), with
    the first matching hint appended to "Invalid ..." messages, so every ingress words its 400s the same way."""
    text = str(exc)
    message, sep, where = text.partition(" - at `$")
    if not sep:
        return text, None
    param = where.rstrip("`").lstrip(".")
    if not param:
        return message, None
    hint = next((h for pattern, h in hints if pattern.search(param)), None)
    suffix = f" ({hint})" if hint and message.startswith("Invalid") else ""
    return f"{message} at '{param}'{suffix}", param


def json_object(body: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object, decoded; a 400 saying what is wrong otherwise."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidRequestError("request body must be a JSON object")
    return data


def convert_body(data: Any, kind: type[T], hints: Sequence[tuple[re.Pattern[str], str]] = ()) -> T:
    """``data`` validated into an ingress's wire struct; a 400 worded by :func:`validation_message` otherwise."""
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        message, param = validation_message(exc, hints)
        raise InvalidRequestError(message, param=param) from exc


def check_tool_choice(request: ChatRequest, param: str) -> ChatRequest:
    """A forced tool must be one of the request's tools: said here, as a 400 naming ``param``, rather than by
    whichever provider the request reaches, in its own words (or not at all)."""
    choice = request.tool_choice
    if choice is not None and choice.mode in ("required", "tool") and not request.tools:
        raise InvalidRequestError(f"'{param}' forces a tool call but no 'tools' are given", param=param)
    if choice is not None and choice.mode == "tool" and choice.name not in {t.name for t in request.tools}:
        raise InvalidRequestError(f"'{param}' names tool '{choice.name}', which is not in 'tools'", param=param)
    return request


async def read_body(call: Call, limit: int) -> bytes:
    """The whole request body; 413 beyond ``limit`` bytes, checked before and while reading."""
    for name, value in call.scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise PayloadTooLargeError(f"request body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await call.receive()
        if message["type"] == "http.disconnect":
            raise InvalidRequestError("client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"request body exceeds {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def meta_headers(meta: ResponseMeta | None, upstream_model: str) -> Headers:
    """``x-switchyard-*`` headers saying who answered, after how many attempts, at what estimated cost."""
    if meta is None:
        return []
    headers = [
        (b"x-switchyard-provider", meta.provider.encode()),
        (b"x-switchyard-deployment", meta.deployment.encode()),
        (b"x-switchyard-model", upstream_model.encode()),
        (b"x-switchyard-attempts", str(len(meta.attempts)).encode()),
        (b"x-switchyard-fallback", b"true" if meta.fallback_used else b"false"),
        (b"x-switchyard-cost-estimate-usd", usd(meta.estimated_cost_usd)),
    ]
    if meta.tier is not None:
        headers.append((b"x-switchyard-tier", meta.tier.encode()))
    headers.extend((name.encode(), value.encode()) for name, value in meta.limit_headers)
    if meta.routing is not None:
        headers.append((b"x-switchyard-route", explain(meta.routing, meta.deployment).encode()))
    if meta.cache is not None:
        headers.append((b"x-switchyard-cache", meta.cache.encode()))
    if meta.redacted is not None:
        headers.append((b"x-switchyard-redacted", str(meta.redacted).encode()))
    return headers


def answer_headers(meta: ResponseMeta | None, upstream_model: str) -> Headers:
    """:func:`meta_headers` for a whole (non-streamed) answer, whose actual cost is known: ``x-switchyard-cost-usd``
    too."""
    headers = meta_headers(meta, upstream_model)
    if meta is not None:
        headers.append((b"x-switchyard-cost-usd", usd(meta.cost_usd)))
    return headers


def usd(value: float | None) -> bytes:
    return b"unknown" if value is None else f"{value:.8f}".encode()


def secret_of(scope: Scope) -> str | None:
    """The caller's key: ``Authorization: Bearer …`` (OpenAI SDKs) or ``x-api-key`` (Anthropic SDKs)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return str(token.strip())
        elif name == b"x-api-key" and value:
            return str(value.decode("latin-1").strip())
    return None


async def send_raw(call: Call, status: int, headers: Headers, body: bytes) -> None:
    """A response that is not JSON (the metrics exposition, the dashboard's page)."""
    call.started = True
    headers = [*headers, (b"content-length", b"%d" % len(body)), (b"x-request-id", call.request_id)]
    await call.send({"type": "http.response.start", "status": status, "headers": headers})
    await call.send({"type": "http.response.body", "body": body})


async def run_until_disconnect(call: Call, work: Awaitable[None]) -> None:
    """Run ``work`` (a streaming response) but stop it as soon as the client goes away, so the upstream
    stream is closed and its connection released instead of generating tokens nobody reads."""

    async def disconnected() -> None:
        while (await call.receive())["type"] != "http.disconnect":
            pass

    worker = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({worker, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (worker, watcher):
            if not task.done():
                task.cancel()
        await asyncio.gather(worker, watcher, return_exceptions=True)
    if worker.done() and not worker.cancelled():
        error = worker.exception()
        if error is not None:
            raise error
