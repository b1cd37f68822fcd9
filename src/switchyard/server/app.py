"""The HTTP gateway: a plain ASGI application over :class:`~switchyard.gateway.Gateway`.

It is deliberately framework-free: the hot path is a dictionary lookup on the path, one body read, one
parse, one gateway call and one render, which keeps per-request overhead within a fraction of a millisecond
(measured in ``bench/``). Every response carries ``x-request-id``; answered requests also name the
provider, deployment and upstream model, and how many attempts it took.

Errors use OpenAI's error body, and Anthropic's under ``/v1/messages``. Client mistakes are 4xx with a message
naming what is wrong; an unexpected exception is logged with the request id and answered with a generic 500 that
contains no traceback.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

import orjson

from ..cache import CacheControl
from ..errors import InvalidRequestError, MethodNotAllowedError, SwitchyardError
from ..gateway import Gateway
from ..governance.auth import Authenticator, Caller
from ..governance.keys import KeyStoreLike
from ..governance.principal import Principal
from ..resilience.executor import ChatStream
from ..routing.needs import parse_tags, take_tags
from ..telemetry.metrics import CONTENT_TYPE
from .anthropic_api import count_tokens, create_message
from .anthropic_render import render_error as render_anthropic_error
from .cache_api import cache_control, cache_feedback
from .dashboard import Dashboard
from .embeddings_api import create_embeddings
from .http import (
    Call,
    NotFoundError,
    Receive,
    Scope,
    Send,
    answer_headers,
    meta_headers,
    read_body,
    run_until_disconnect,
    secret_of,
    send_raw,
)
from .openai_ingress import parse_chat_request
from .openai_render import render_chunk, render_error, render_response, render_usage_chunk
from .responses_api import create_response
from .routing_api import experiments_report, record_feedback

__all__ = ["Admission", "Attributed", "GatewayApp", "create_app"]

Handler = Callable[[Call], Awaitable[None]]
AdminHandler = Callable[[str, str, bytes, bytes], Awaitable[tuple[int, bytes]]]
"""``(method, path, query string, body) -> (status, JSON body)``, called once the master key is verified."""


class Attributed(Protocol):
    """What the HTTP layer reads and sets on a parsed request (chat, or embeddings) for attribution and routing."""

    user: str | None
    extra: dict[str, Any]
    tags: list[str]
    session: str | None


R = TypeVar("R", bound=Attributed)


class Admission(NamedTuple, Generic[R]):
    """A parsed request with what the HTTP layer learnt about it, ready for :class:`Gateway`."""

    request: R
    principal: Principal
    request_id: str
    cache: CacheControl | None


class Lifecycle(Protocol):
    """Things the server opens at start-up and closes after the gateway (the usage database)."""

    async def start(self) -> None: ...
    async def aclose(self) -> None: ...


logger = logging.getLogger("switchyard.server")

_DONE = b"data: [DONE]\n\n"


def _principal(scope: Scope, request: Attributed, caller: Caller) -> Principal:
    """Attribution and controls a client may send: ``x-switchyard-user``, ``x-switchyard-features`` (comma
    separated), ``x-switchyard-priority: critical`` and ``x-switchyard-max-cost`` (or ``max_cost`` in the body).
    Routing hints go onto the request: ``x-switchyard-tags`` (and ``metadata.tags``), ``x-switchyard-session``."""
    user, features, critical, max_cost = request.user, (), False, request.extra.pop("max_cost", None)
    for name, raw in scope["headers"]:
        if not name.startswith(b"x-switchyard-"):
            continue
        value = raw.decode("latin-1").strip()
        if name == b"x-switchyard-user":
            user = value or user
        elif name == b"x-switchyard-features":
            features = tuple(f.strip() for f in value.split(",") if f.strip())
        elif name == b"x-switchyard-priority":
            critical = value.lower() == "critical"
        elif name == b"x-switchyard-max-cost":
            max_cost = value
        elif name == b"x-switchyard-tags":
            request.tags = [*request.tags, *parse_tags(value)]
        elif name == b"x-switchyard-session":
            request.session = value or None
    take_tags(request)
    if max_cost is not None:
        try:
            max_cost = float(max_cost)
        except (TypeError, ValueError):
            message = f"max_cost must be a number of dollars, got {max_cost!r}"
            raise InvalidRequestError(message, param="max_cost") from None
    return Principal.of(caller.key, user=user, features=features, critical=critical, max_cost=max_cost)


class GatewayApp:
    """ASGI application over a :class:`Gateway`: OpenAI's chat completions, Responses and embeddings APIs,
    Anthropic's messages API, and the gateway's own health, metrics, feedback, admin and dashboard endpoints."""

    def __init__(
        self,
        gateway: Gateway,
        *,
        max_body_bytes: int | None = None,
        keys: KeyStoreLike | None = None,
        admin: AdminHandler | None = None,
        services: Lifecycle | None = None,
    ) -> None:
        self.gateway = gateway
        self.max_body_bytes = max_body_bytes or gateway.config.server.max_body_bytes
        self.ready = True
        self.auth = Authenticator(gateway.config.governance, keys)
        self.admin = admin
        self.services = services
        self.dashboard = Dashboard(gateway, admin)
        cache = gateway.config.cache
        self._personal = cache.skip.personal_header.lower().encode() if cache.enabled else None
        chat, models = self._chat_completions, self._models
        self._routes: dict[str, tuple[bytes, Handler]] = {
            "/v1/chat/completions": (b"POST", chat),
            "/chat/completions": (b"POST", chat),
            "/v1/responses": (b"POST", partial(create_response, self)),
            "/responses": (b"POST", partial(create_response, self)),
            "/v1/messages": (b"POST", partial(create_message, self)),
            "/v1/embeddings": (b"POST", partial(create_embeddings, self)),
            "/embeddings": (b"POST", partial(create_embeddings, self)),
            "/v1/messages/count_tokens": (b"POST", partial(count_tokens, self)),
            "/v1/models": (b"GET", models),
            "/models": (b"GET", models),
            "/health": (b"GET", self._health),
            "/health/providers": (b"GET", self._health_providers),
            "/v1/feedback": (b"POST", self._feedback),
            "/metrics": (b"GET", self._metrics),
        }
        self._models_body = orjson.dumps(
            {
                "object": "list",
                "data": [
                    {"id": name, "object": "model", "created": 0, "owned_by": _owner(gateway, name)}
                    for name in gateway.model_names
                ],
            }
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(Call(scope, receive, send))
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, call: Call) -> None:
        path = call.scope["path"]
        route = self._routes.get(path)
        if path == "/v1/messages" or path.startswith("/v1/messages/"):
            # Anthropic's SDKs read only Anthropic's error shape: every error under this prefix is rendered so,
            # the 404s, 405s and the generic 500 below as well as what the handlers raise.
            call.render_error = render_anthropic_error
            call.id_headers = (b"x-request-id", b"request-id")
        try:
            if route is None and call.scope["path"].startswith("/dashboard"):
                body = await self._read_body(call) if call.scope["method"] == "POST" else b""
                await send_raw(call, *await self.dashboard(call.scope, body))
                return
            if route is None and call.scope["path"].startswith("/admin/"):
                await self._admin(call)
                return
            if route is None:
                raise NotFoundError(f"no endpoint {call.scope['method']} {call.scope['path']}")
            method, handler = route
            if call.scope["method"].encode() != method:
                raise MethodNotAllowedError(f"{call.scope['path']} accepts {method.decode()} only")
            await handler(call)
        except SwitchyardError as exc:
            if exc.status_code >= 500:
                logger.warning("request %s failed: %s", call.request_id.decode(), exc)
            if not call.started:
                await call.respond_error(exc)
        except Exception:
            # A bug of ours, never the client's: log it with the request id, answer without internals.
            logger.exception("request %s: unexpected error", call.request_id.decode())
            if not call.started:
                message = f"internal error (request id {call.request_id.decode()})"
                await call.respond_error(SwitchyardError(message, code="internal_error"))

    async def _read_body(self, call: Call) -> bytes:
        return await read_body(call, self.max_body_bytes)

    async def prepare(self, call: Call, parse: Callable[[bytes], R]) -> Admission[R]:
        """What every ingress does before the gateway: authenticate, read and parse the body with
        the ingress's ``parse``, and read the caller's attribution, limits and cache controls from the headers.
        A request turned away here still counts in metrics and the request log."""
        try:
            caller = await self.auth.caller(secret_of(call.scope))
            request = parse(await self._read_body(call))
            principal = _principal(call.scope, request, caller)
        except SwitchyardError as exc:
            self.gateway.telemetry.refused(None, call.request_id.decode(), exc)
            raise
        cache = cache_control(call.scope["headers"], self._personal) if self._personal is not None else None
        return Admission(request, principal, call.request_id.decode(), cache)

    async def _chat_completions(self, call: Call) -> None:
        request, principal, request_id, cache = await self.prepare(call, parse_chat_request)
        if not request.stream:
            response = await self.gateway.chat(request, principal=principal, request_id=request_id, cache=cache)
            headers = answer_headers(response.meta, response.model)
            await call.respond(200, render_response(response, request.model), headers)
            return
        stream = await self.gateway.stream(request, principal=principal, request_id=request_id, cache=cache)
        try:
            await run_until_disconnect(call, self._pump(call, stream, request.model, request.include_usage))
        finally:
            await stream.aclose()

    async def _feedback(self, call: Call) -> None:
        caller = await self.auth.caller(secret_of(call.scope))
        body = await self._read_body(call)
        # The cache's part: negative feedback on an answer the cache served or stored removes the entry.
        cached = await cache_feedback(self.gateway, body, Principal.of(caller.key))
        await call.respond(*record_feedback(self.gateway, body, cached=cached))

    async def _admin(self, call: Call) -> None:
        await self.auth.admin(secret_of(call.scope))
        if call.scope["path"] in ("/admin/metrics", "/admin/dashboard") and call.scope["method"] == "GET":
            await call.respond(*await self.dashboard.admin_json(call.scope))
            return
        if call.scope["path"] == "/admin/experiments" and call.scope["method"] == "GET":
            await call.respond(*experiments_report(self.gateway))
            return
        if self.admin is None:
            raise NotFoundError("the admin API needs the usage database (ledger) to be configured")
        body = await self._read_body(call) if call.scope["method"] in ("POST", "PUT", "PATCH") else b""
        status, payload = await self.admin(call.scope["method"], call.scope["path"], call.scope["query_string"], body)
        await call.respond(status, payload)

    async def _pump(self, call: Call, stream: ChatStream, model: str, include_usage: bool) -> None:
        response_id, created, usage = "", int(time.time()), None
        first = True
        try:
            async for chunk in stream:
                if first:
                    await call.start_stream(meta_headers(stream.meta, chunk.model))
                    response_id, first = chunk.id or f"chatcmpl-{call.request_id.decode()}", False
                if chunk.usage is not None and chunk.text is None and not chunk.tool_calls and chunk.role is None:
                    usage = chunk.usage
                    if chunk.finish_reason is None:
                        continue
                await call.send_chunk(render_chunk(chunk, model, response_id, created, include_usage))
            tail = _DONE
            if include_usage and usage is not None:
                tail = render_usage_chunk(usage, model, response_id, created, stream.meta.cost_usd) + _DONE
        except SwitchyardError as exc:
            if not call.started:
                raise
            # Mid-stream failure: the client already has output, so end its stream with an error event it
            # can parse (the OpenAI SDKs raise it as an APIError) rather than a silently truncated answer.
            logger.warning("request %s: stream failed mid-way: %s", call.request_id.decode(), exc)
            tail = b"data: " + render_error(exc) + b"\n\n"
        await call.send_chunk(tail, last=True)

    async def _models(self, call: Call) -> None:
        await call.respond(200, self._models_body)

    async def _health(self, call: Call) -> None:
        if self.ready:
            await call.respond(200, b'{"status":"ok"}')
        else:
            await call.respond(503, b'{"status":"shutting down"}')

    async def _metrics(self, call: Call) -> None:
        if self.gateway.config.telemetry.metrics_require_key:
            await self.auth.admin(secret_of(call.scope))
        await send_raw(call, 200, [(b"content-type", CONTENT_TYPE)], self.gateway.telemetry.exposition())

    async def _health_providers(self, call: Call) -> None:
        report = await self.gateway.health_report()
        for name, figures in self.gateway.telemetry.deployments().items():
            if name in report:
                report[name]["traffic"] = figures
        await call.respond(200, orjson.dumps({"deployments": report}))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _settle_gc()
                if self.services is not None:
                    await self.services.start()
                await self.auth.start()
                self.gateway.start()
                self.ready = True
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.ready = False
                await self.gateway.aclose()
                if self.services is not None:
                    await self.services.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


# Gen-0 threshold for a serving process (CPython's default is 700). See _settle_gc.
_GC_GEN0_THRESHOLD = 10_000


def _settle_gc() -> None:
    """Tune the cyclic garbage collector for serving, once start-up is done.

    Requests leave no reference cycles behind on the hot path, yet at the default threshold the ~800 objects
    alive across 32 in-flight requests set off a gen-0 collection every ~20 requests, and about once a second a
    full one walks all ~40,000 start-up objects (modules, config, adapters), stalling every in-flight request
    for ~30 ms. Measured at c=32: ~27 µs of CPU per request, ~10 % of the process. Freezing the start-up heap
    takes it out of every later collection, and a higher gen-0 threshold stops collections that find nothing;
    together they bring it to ~0 (bench/README.md). Only lifespan startup calls this, i.e. only when this app
    is what the server process serves.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(_GC_GEN0_THRESHOLD, gen1, gen2)


def _owner(gateway: Gateway, name: str) -> str:
    deployment = gateway.deployments.get(name)
    return deployment.provider if deployment is not None else "switchyard-route"


def create_app(gateway: Gateway) -> GatewayApp:
    return GatewayApp(gateway)
