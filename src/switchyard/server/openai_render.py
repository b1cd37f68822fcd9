"""Canonical responses, stream chunks and errors → OpenAI's wire shapes."""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import (
    AllAttemptsFailedError,
    BudgetExceededError,
    LimitExceededError,
    SwitchyardError,
    UpstreamError,
)
from ..types import ChatChunk, ChatResponse, Message, TextPart, Usage

__all__ = ["render_chunk", "render_error", "render_response", "render_usage_chunk"]


def _usage(usage: Usage, cost_usd: float | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
    # An extension field: the SDKs keep unknown usage fields (``usage.model_extra`` in openai-python). Unknown
    # prices stay null, never 0.
    body["cost_usd"] = cost_usd
    return body


def _message(message: Message) -> dict[str, Any]:
    text_parts = [p.text for p in message.content if isinstance(p, TextPart)]
    out: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(text_parts) if text_parts else None,
        "refusal": None,
    }
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    return out


def render_response(response: ChatResponse, model: str) -> bytes:
    """``model`` is the name the client asked for, as OpenAI echoes it; the upstream model is in headers."""
    body: dict[str, Any] = {
        "id": response.id,
        "object": "chat.completion",
        "created": response.created,
        "model": model,
        "choices": [
            {"index": c.index, "message": _message(c.message), "logprobs": None, "finish_reason": c.finish_reason}
            for c in response.choices
        ],
        "usage": _usage(response.usage, response.meta.cost_usd if response.meta else None) if response.usage else None,
    }
    if response.system_fingerprint:
        body["system_fingerprint"] = response.system_fingerprint
    return orjson.dumps(body)


def render_chunk(chunk: ChatChunk, model: str, response_id: str, created: int, include_usage: bool) -> bytes:
    delta: dict[str, Any] = {}
    if chunk.role:
        delta["role"] = chunk.role
    if chunk.text is not None:
        delta["content"] = chunk.text
    if chunk.tool_calls:
        calls = []
        for c in chunk.tool_calls:
            call: dict[str, Any] = {"index": c.index}
            if c.id:
                call["id"] = c.id
                call["type"] = "function"
            function: dict[str, str] = {"arguments": c.arguments}
            if c.name:
                function["name"] = c.name
            call["function"] = function
            calls.append(call)
        delta["tool_calls"] = calls
    body: dict[str, Any] = {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": chunk.index, "delta": delta, "logprobs": None, "finish_reason": chunk.finish_reason}],
    }
    if include_usage:
        body["usage"] = None
    return b"data: " + orjson.dumps(body) + b"\n\n"


def render_usage_chunk(
    usage: Usage, model: str, response_id: str, created: int, cost_usd: float | None = None
) -> bytes:
    body = {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": _usage(usage, cost_usd),
    }
    return b"data: " + orjson.dumps(body) + b"\n\n"


def error_body(exc: SwitchyardError) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": exc.message,
        "type": exc.error_type,
        "param": exc.param,
        "code": exc.code,
    }
    if isinstance(exc, UpstreamError):
        error["provider"] = exc.provider
        error["deployment"] = exc.deployment
    if isinstance(exc, BudgetExceededError):
        error["budget"] = exc.budget
        error["resets_at"] = exc.resets_at
    if isinstance(exc, LimitExceededError):
        error["limit"] = exc.limit
        error["retry_after"] = round(exc.retry_after, 3)
    if isinstance(exc, AllAttemptsFailedError):
        error["attempts"] = [
            {
                "deployment": e.deployment,
                "provider": e.provider,
                "type": type(e).__name__,
                "status": e.upstream_status,
                "message": e.message,
            }
            for e in exc.errors
        ]
    return {"error": error}


def render_error(exc: SwitchyardError) -> bytes:
    return orjson.dumps(error_body(exc))
