"""``POST /v1/messages`` and ``POST /v1/messages/count_tokens``: Anthropic's Messages API over the gateway.

The handlers are the chat-completions one with Anthropic's parser and renderer: ``GatewayApp.prepare``
authenticates (the ``anthropic`` SDK sends ``x-api-key``), reads and parses the body, and ``Gateway.chat`` /
``Gateway.stream`` run the same pipeline (routing, fallback, budgets, cache), so any configured model or route
answers in Anthropic's format. Every error under ``/v1/messages``, from authentication on, is rendered in
Anthropic's error shape (``GatewayApp`` chooses the renderer by path). Responses carry the usual ``x-switchyard-*``
headers and Anthropic's ``request-id``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import orjson

from ..errors import InvalidRequestError, ModelNotFoundError, SwitchyardError
from ..gateway import Gateway
from ..pricing.tokens import estimate_prompt_tokens
from ..providers.anthropic import AnthropicAdapter
from ..resilience.executor import ChatStream
from ..types import ChatRequest
from .anthropic_ingress import ANTHROPIC_ONLY, parse_count_tokens_request, parse_messages_request
from .anthropic_render import MessageStream, render_message, render_stream_error
from .http import Call, answer_headers, meta_headers, run_until_disconnect

if TYPE_CHECKING:
    from .app import GatewayApp

__all__ = ["count_tokens", "create_message"]

logger = logging.getLogger("switchyard.server")


def _require_anthropic(gateway: Gateway, request: ChatRequest) -> None:
    """Anthropic-only fields (``top_k``...) are sent verbatim, so every deployment that may serve the request must
    be an Anthropic one: the named deployment and the default fallback chain. Routes choose per request, so they
    are turned away rather than fail on whichever non-Anthropic target the router picks."""
    fields = [name for name in ANTHROPIC_ONLY if name in request.extra]
    if not fields:
        return
    named = ", ".join(f"'{f}'" for f in fields)
    if request.model not in gateway.deployments:
        raise InvalidRequestError(
            f"{named} only reaches Anthropic deployments; '{request.model}' is not a single deployment "
            "(a route may send it to any provider): name an Anthropic model or leave it out", param=fields[0])
    mode = gateway.deployments[request.model].mode
    for name in dict.fromkeys([request.model, *gateway.config.resilience.fallbacks]):
        deployment = gateway.deployments[name]
        # The router follows a named model only with fallbacks of its own kind: an embedding model never serves it.
        if deployment.mode != mode:
            continue
        if not isinstance(deployment.adapter, AnthropicAdapter):
            raise InvalidRequestError(
                f"{named} only reaches Anthropic deployments; '{name}' is served by provider "
                f"'{deployment.provider}': leave it out", param=fields[0])


async def create_message(app: GatewayApp, call: Call) -> None:
    """Answer one ``/v1/messages`` request, streamed (``stream: true``) or whole."""

    def parse(body: bytes) -> ChatRequest:
        request = parse_messages_request(body)
        _require_anthropic(app.gateway, request)
        return request

    request, principal, request_id, cache = await app.prepare(call, parse)
    if not request.stream:
        response = await app.gateway.chat(request, principal=principal, request_id=request_id, cache=cache)
        body = render_message(response, request.model)
        await call.respond(200, body, answer_headers(response.meta, response.model))
        return
    stream = await app.gateway.stream(request, principal=principal, request_id=request_id, cache=cache)
    events = MessageStream(request.model)
    try:
        await run_until_disconnect(call, _pump(call, stream, events, estimate_prompt_tokens(request)))
    finally:
        await stream.aclose()


async def _pump(call: Call, stream: ChatStream, events: MessageStream, input_estimate: int) -> None:
    try:
        async for chunk in stream:
            if not call.started:
                await call.start_stream(meta_headers(stream.meta, chunk.model))
                await call.send_chunk(events.start(chunk.id or call.request_id.decode(), input_estimate))
            body = events.feed(chunk)
            if body:
                await call.send_chunk(body)
        if not call.started:
            # An upstream that ended without a single chunk still gets a well-formed (empty) message.
            await call.start_stream(meta_headers(stream.meta, ""))
            await call.send_chunk(events.start(call.request_id.decode(), input_estimate))
        tail = events.finish()
    except SwitchyardError as exc:
        if not call.started:
            raise
        # Mid-stream failure: the client already has output, so end with an error event the SDKs raise
        # rather than a silently truncated message.
        logger.warning("request %s: stream failed mid-way: %s", call.request_id.decode(), exc)
        tail = render_stream_error(exc)
    await call.send_chunk(tail, last=True)


async def count_tokens(app: GatewayApp, call: Call) -> None:
    """``{"input_tokens": N}`` for a Messages body, without calling any provider.

    N is the gateway's offline estimate (:func:`~switchyard.pricing.tokens.estimate_prompt_tokens`, OpenAI's
    accounting over a fitted byte model), the same figure budgets and routing use; providers' own tokenizers,
    Claude's included, count the same prompt somewhat differently."""

    def parse(body: bytes) -> ChatRequest:
        request = parse_count_tokens_request(body)
        if request.model not in app.gateway.model_names:
            raise ModelNotFoundError(f"unknown model or route '{request.model}'")
        return request

    request = (await app.prepare(call, parse)).request
    await call.respond(200, orjson.dumps({"input_tokens": estimate_prompt_tokens(request)}))

