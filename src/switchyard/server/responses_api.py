"""``POST /v1/responses``: OpenAI's Responses API over the gateway, answered by any provider.

The handler is the chat-completions one with another parser and renderer: ``GatewayApp.prepare`` authenticates,
reads and parses the body, then ``Gateway.chat`` / ``Gateway.stream`` run the same pipeline (routing, fallback,
budgets, cache) and the answer is rendered as a ``response`` object or as Responses stream events. Requests are
stateless (see ``responses_ingress``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from ..errors import SwitchyardError
from ..resilience.executor import ChatStream
from ..types import ChatRequest
from .http import Call, answer_headers, meta_headers, run_until_disconnect
from .responses_ingress import ResponsesRequest, parse_responses_request
from .responses_render import ResponseEvents, render_response

if TYPE_CHECKING:
    from .app import GatewayApp

__all__ = ["create_response"]

logger = logging.getLogger("switchyard.server")


async def create_response(app: GatewayApp, call: Call) -> None:
    """Answer one ``/v1/responses`` request, streamed (``stream: true``) or whole."""
    parsed: list[ResponsesRequest] = []

    def parse(body: bytes) -> ChatRequest:
        # prepare() wants the canonical request; the echo-only fields are kept here for rendering.
        parsed.append(parse_responses_request(body))
        return parsed[0].chat

    request, principal, request_id, cache = await app.prepare(call, parse)
    if not request.stream:
        response = await app.gateway.chat(request, principal=principal, request_id=request_id, cache=cache)
        headers = answer_headers(response.meta, response.model)
        await call.respond(200, render_response(parsed[0], response, request_id), headers)
        return
    stream = await app.gateway.stream(request, principal=principal, request_id=request_id, cache=cache)
    events = ResponseEvents(parsed[0], request_id, int(time.time()))
    try:
        await run_until_disconnect(call, _pump(call, stream, events))
    finally:
        await stream.aclose()


async def _pump(call: Call, stream: ChatStream, events: ResponseEvents) -> None:
    try:
        async for chunk in stream:
            body = b""
            if not call.started:
                await call.start_stream(meta_headers(stream.meta, chunk.model))
                body = events.start()
            body += events.chunk(chunk)
            if body:
                await call.send_chunk(body)
        if not call.started:
            await call.start_stream(meta_headers(stream.meta, stream.meta.deployment))
            await call.send_chunk(events.start())
        tail = events.finish_events(stream.meta.cost_usd)
    except SwitchyardError as exc:
        if not call.started:
            raise
        # Output has been sent, so the status line is gone: the failure travels as events the SDK understands.
        logger.warning("request %s: stream failed mid-way: %s", call.request_id.decode(), exc)
        tail = events.failure_events(exc)
    await call.send_chunk(tail, last=True)
