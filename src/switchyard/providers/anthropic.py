"""Anthropic Messages API adapter (``POST {base_url}/v1/messages``; ``base_url`` is the host, as in the SDK).

Canonical ⇄ Messages: system messages become the top-level ``system``, tool calls become ``tool_use`` blocks on the
assistant turn, tool results become ``tool_result`` blocks in a user turn, and consecutive turns of one role merge
(the API wants every result of one assistant turn's calls in the one user turn that follows it). ``max_tokens`` is
required upstream: the request's, else the model's configured ``max_output_tokens``, else :data:`DEFAULT_MAX_TOKENS`.

Anthropic has no JSON mode. ``response_format`` is served the way Anthropic's own docs recommend: a tool whose
``input_schema`` is the wanted schema, forced with ``tool_choice``; its input is handed back to the client as the
message text, so the client sees exactly what a JSON-mode provider would send.

A stream is the SSE sequence ``message_start`` → (``content_block_start`` → ``content_block_delta``… →
``content_block_stop``)… → ``message_delta`` → ``message_stop``; usage arrives split between ``message_start``
(input) and ``message_delta`` (output, cumulative).

``ChatRequest.extra`` is merged into the top level of the body verbatim (``top_k``, ``thinking``, ``metadata``…).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Final, Literal

import orjson

from ..config import ProviderConfig
from ..errors import (
    AuthenticationError,
    ContextLengthExceededError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitedError,
    UpstreamError,
    UpstreamNotFoundError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from ..types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    FinishReason,
    ImagePart,
    Message,
    Part,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from .base import Adapter, Deployment, ErrorDetails, Preset, Profile, StreamState, tool_arguments
from .sse import SSEEvent
from .transport import Transport, UpstreamRequest

__all__ = ["AnthropicAdapter", "encode_messages", "parse_usage"]

API_VERSION: Final = "2023-06-01"
"""The ``anthropic-version`` header; the only version of the Messages API, overridable by ``api_version``."""

DEFAULT_MAX_TOKENS: Final = 4096
"""Sent when neither the request nor the model's configuration sets ``max_tokens``: every current Claude model
accepts it, and it is long enough that ordinary answers are not cut off."""

JSON_TOOL: Final = "json_response"
"""The tool that carries a ``response_format`` answer. Its calls are returned as text, never as tool calls."""

FINISH_REASONS: Final[dict[str, FinishReason]] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

CONTEXT_LENGTH_PHRASES: Final = ("prompt is too long", "exceed context limit")
"""Anthropic reports an over-long prompt as a 400 ``invalid_request_error`` ("prompt is too long: N tokens > M
maximum"; "input length and `max_tokens` exceed context limit"); the message is the only signal."""

_ERROR_TYPES: Final[dict[str, type[UpstreamError]]] = {
    "authentication_error": AuthenticationError,
    "permission_error": PermissionDeniedError,
    "not_found_error": UpstreamNotFoundError,
    "rate_limit_error": RateLimitedError,
    "overloaded_error": UpstreamUnavailableError,
    "api_error": UpstreamUnavailableError,
    "timeout_error": UpstreamTimeoutError,
}

# The HTTP status Anthropic pairs with each error type, for errors that arrive inside a 200 stream.
_STREAM_ERROR_STATUS: Final = {
    "invalid_request_error": 400, "authentication_error": 401, "permission_error": 403, "not_found_error": 404,
    "request_too_large": 413, "rate_limit_error": 429, "api_error": 500, "timeout_error": 504,
    "overloaded_error": 529,
}

BlockKind = Literal["text", "tool", "json", "other"]


def _image_block(part: ImagePart) -> dict[str, Any]:
    if part.is_inline:
        media_type, data = part.inline_data()
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": part.url}}


def _encode_parts(content: list[Part]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            # The API rejects empty text blocks ("text content blocks must be non-empty").
            if part.text:
                blocks.append({"type": "text", "text": part.text})
        else:
            blocks.append(_image_block(part))
    return blocks


def _tool_result(message: Message) -> dict[str, Any]:
    if not message.tool_call_id:
        raise InvalidRequestError("a tool message needs the tool_call_id of the call it answers", param="messages")
    blocks = _encode_parts(message.content)
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
    if any(b["type"] != "text" for b in blocks):
        block["content"] = blocks
    elif blocks:
        block["content"] = "".join(b["text"] for b in blocks)
    if message.is_error:
        block["is_error"] = True
    return block


def encode_messages(messages: list[Message]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Canonical messages as Anthropic's ``(system blocks, messages)``. Every system message joins the one top-level
    system prompt; a turn with no blocks (an empty assistant message) is left out, since the API rejects it."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            system.extend(b for b in _encode_parts(message.content) if b["type"] == "text")
            continue
        if message.role == "tool":
            role, blocks = "user", [_tool_result(message)]
        else:
            role, blocks = message.role, _encode_parts(message.content)
        for call in message.tool_calls:
            blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": tool_arguments(call)})
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            previous = turns[-1]["content"]
            # Results must come first in a user turn: text the client sent after them goes after them.
            previous.extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def parse_usage(data: dict[str, Any] | None) -> Usage | None:
    """Anthropic's ``usage`` → :class:`Usage`. Its ``input_tokens`` leaves out cache reads and writes; the canonical
    count includes them, with the reads as ``cached_tokens``, so cost is computed on every token billed."""
    if not data:
        return None
    cache_read = data.get("cache_read_input_tokens") or 0
    return Usage(
        input_tokens=(data.get("input_tokens") or 0) + (data.get("cache_creation_input_tokens") or 0) + cache_read,
        output_tokens=data.get("output_tokens") or 0,
        cached_tokens=cache_read,
    )


def _finish(reason: str | None, json_mode: bool) -> FinishReason | None:
    if not reason:
        return None
    finish = FINISH_REASONS.get(reason, "stop")
    # A forced JSON-tool answer ends with ``tool_use``, but the client asked for text and got it.
    return "stop" if json_mode and finish == "tool_calls" else finish


class _AnthropicStreamState(StreamState):
    def __init__(self, request: ChatRequest, deployment: Deployment) -> None:
        super().__init__(request, deployment)
        self.input_usage: Usage | None = None
        self.output_tokens = 0
        self.blocks: dict[int, tuple[BlockKind, int]] = {}  # content block index → (kind, tool call index)
        self.calls = 0


class AnthropicAdapter(Adapter):
    """The Messages API. Sampling extras Claude does not have (``n``, ``seed``, penalties, logprobs, ``logit_bias``)
    and per-message ``name`` are rejected up front rather than dropped."""

    protocol: ClassVar[str] = "anthropic"
    default_profile: ClassVar[Profile] = Profile(
        n=False, seed=False, penalties=False, logprobs=False, logit_bias=False, message_name=False, embeddings=False
    )

    def __init__(self, provider_name: str, config: ProviderConfig, preset: Preset, transport: Transport) -> None:
        super().__init__(provider_name, config, preset, transport)
        # setdefault: a version in the configured headers wins over the one derived here.
        self.headers.setdefault("anthropic-version", self.api_version or API_VERSION)

    def _build_body(self, request: ChatRequest, deployment: Deployment, *, stream: bool) -> dict[str, Any]:
        system, turns = encode_messages(request.messages)
        max_tokens = request.max_tokens or deployment.max_output_tokens or DEFAULT_MAX_TOKENS
        body: dict[str, Any] = {"model": deployment.model, "messages": turns, "max_tokens": max_tokens}
        if system:
            body["system"] = system
        tools = [self._tool(t.name, t.description, t.parameters) for t in request.tools]
        choice = self._tool_choice(request)
        fmt = request.response_format
        if fmt is not None and fmt.type != "text":
            schema = fmt.schema if fmt.type == "json_schema" and fmt.schema else {"type": "object"}
            description = fmt.description or "Give the final answer by calling this tool with it as the input."
            tools.append(self._tool(JSON_TOOL, description, schema))
            if not request.tools:
                # With client tools too the model must stay free to call them, so the JSON tool is offered, not forced.
                choice = {"type": "tool", "name": JSON_TOOL}
        if tools:
            body["tools"] = tools
        if choice is not None:
            body["tool_choice"] = choice
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.stop:
            body["stop_sequences"] = request.stop
        if request.user is not None:
            body["metadata"] = {"user_id": request.user}
        if stream:
            body["stream"] = True
        body.update(request.extra)
        return body

    @staticmethod
    def _tool(name: str, description: str | None, schema: dict[str, Any]) -> dict[str, Any]:
        tool: dict[str, Any] = {"name": name, "input_schema": schema}
        if description:
            tool["description"] = description
        return tool

    @staticmethod
    def _tool_choice(request: ChatRequest) -> dict[str, Any] | None:
        choice = request.tool_choice
        if choice is None and request.parallel_tool_calls is None:
            return None
        mode = choice.mode if choice is not None else "auto"
        result: dict[str, Any] = {"type": {"required": "any"}.get(mode, mode)}
        if mode == "tool" and choice is not None:
            result["name"] = choice.name
        if request.parallel_tool_calls is False and mode != "none":
            result["disable_parallel_tool_use"] = True
        return result

    def _build_request(self, request: ChatRequest, deployment: Deployment, *, stream: bool) -> UpstreamRequest:
        body = self._build_body(request, deployment, stream=stream)
        return UpstreamRequest("POST", self._url("/v1/messages"), self.headers, self._encode(body), deployment.timeout)

    def _process_response(self, data: Any, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        json_mode = _json_mode(request)
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in data["content"]:
            kind = block.get("type")
            if kind == "text":
                texts.append(block["text"])
            elif kind == "tool_use" and json_mode and block["name"] == JSON_TOOL:
                texts.append(orjson.dumps(block.get("input") or {}).decode())
            elif kind == "tool_use":
                calls.append(ToolCall(id=block["id"], name=block["name"],
                                      arguments=orjson.dumps(block.get("input") or {}).decode()))
            # ``thinking`` and ``redacted_thinking`` blocks are the model's notes, not its answer.
        text = "".join(texts)
        message = Message(role="assistant", content=[TextPart(text)] if text else [], tool_calls=calls)
        return ChatResponse(
            id=data.get("id") or "",
            model=data.get("model") or deployment.model,
            choices=[Choice(index=0, message=message, finish_reason=_finish(data.get("stop_reason"), json_mode))],
            usage=parse_usage(data.get("usage")),
        )

    def _new_stream_state(self, request: ChatRequest, deployment: Deployment) -> StreamState:
        return _AnthropicStreamState(request, deployment)

    def _process_stream_event(self, event: SSEEvent, state: StreamState) -> Iterable[ChatChunk]:
        assert isinstance(state, _AnthropicStreamState)
        data = orjson.loads(event.data)
        kind = data["type"]
        if kind == "message_start":
            message = data["message"]
            state.id = message.get("id") or state.id
            state.model = message.get("model") or state.model
            state.input_usage = parse_usage(message.get("usage"))
            state.output_tokens = (message.get("usage") or {}).get("output_tokens") or 0
            yield self._chunk(state, role="assistant")
        elif kind == "content_block_start":
            yield from self._block_start(data["index"], data["content_block"], state)
        elif kind == "content_block_delta":
            yield from self._block_delta(data["index"], data["delta"], state)
        elif kind == "message_delta":
            usage = data.get("usage") or {}
            state.output_tokens = usage.get("output_tokens", state.output_tokens)
            if usage.get("input_tokens") is not None:
                # Newer API versions repeat the (final) input counts here; they supersede message_start's.
                state.input_usage = parse_usage(usage)
            finish = _finish((data.get("delta") or {}).get("stop_reason"), _json_mode(state.request))
            if finish is not None:
                yield self._chunk(state, finish_reason=finish)
        elif kind == "message_stop":
            state.finished = True
            usage = state.input_usage or Usage()
            yield self._chunk(state, usage=Usage(input_tokens=usage.input_tokens, output_tokens=state.output_tokens,
                                                 cached_tokens=usage.cached_tokens))
        elif kind == "error":
            error = data.get("error")
            kind = error.get("type") if isinstance(error, dict) else None
            status = _STREAM_ERROR_STATUS.get(kind, 500) if isinstance(kind, str) else 500
            raise self._map_error(status, {}, event.data.encode(), state.deployment)
        # ``ping`` and ``content_block_stop`` carry nothing; unknown event types are skipped, as the API asks.

    def _block_start(self, index: int, block: dict[str, Any], state: _AnthropicStreamState) -> Iterable[ChatChunk]:
        kind = block.get("type")
        if kind == "text":
            state.blocks[index] = ("text", 0)
            if block.get("text"):
                yield self._chunk(state, text=block["text"])
        elif kind == "tool_use" and _json_mode(state.request) and block.get("name") == JSON_TOOL:
            state.blocks[index] = ("json", 0)
        elif kind == "tool_use":
            call = state.calls
            state.calls += 1
            state.blocks[index] = ("tool", call)
            yield self._chunk(state, tool_calls=[ToolCallDelta(index=call, id=block["id"], name=block["name"])])
        else:
            state.blocks[index] = ("other", 0)

    def _block_delta(self, index: int, delta: dict[str, Any], state: _AnthropicStreamState) -> Iterable[ChatChunk]:
        kind, call = state.blocks.get(index, ("other", 0))
        if kind == "text" and delta.get("type") == "text_delta" and delta.get("text"):
            yield self._chunk(state, text=delta["text"])
        elif kind == "json" and delta.get("type") == "input_json_delta" and delta.get("partial_json"):
            yield self._chunk(state, text=delta["partial_json"])
        elif kind == "tool" and delta.get("type") == "input_json_delta" and delta.get("partial_json"):
            yield self._chunk(state, tool_calls=[ToolCallDelta(index=call, arguments=delta["partial_json"])])

    @staticmethod
    def _chunk(state: StreamState, **fields: Any) -> ChatChunk:
        return ChatChunk(id=state.id, model=state.model, created=state.created, **fields)

    def _error_details(self, data: Any) -> ErrorDetails:
        if isinstance(data, dict):
            error = data.get("error", data)
            if isinstance(error, dict):
                kind = error.get("type")
                return ErrorDetails(message=str(error.get("message") or ""), code=kind, type=kind)
            return ErrorDetails(str(error))
        return ErrorDetails(str(data))

    def _classify_error(self, status: int, details: ErrorDetails) -> type[UpstreamError] | None:
        if status == 400 and any(p in details.message.lower() for p in CONTEXT_LENGTH_PHRASES):
            return ContextLengthExceededError
        return _ERROR_TYPES.get(details.type or "")


def _json_mode(request: ChatRequest) -> bool:
    return request.response_format is not None and request.response_format.type != "text"
