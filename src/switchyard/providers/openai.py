"""OpenAI Chat Completions and Embeddings adapter. Every OpenAI-compatible vendor (Groq, xAI, DeepSeek, Mistral,
Together, OpenRouter, vLLM, Ollama, Azure AI inference) is a preset of this adapter; Azure OpenAI subclasses it
only for its URL scheme."""

from __future__ import annotations

import array
import base64
import sys
from collections.abc import Iterable
from typing import Any, ClassVar

import orjson

from ..embedding_types import EmbeddingRequest, EmbeddingResponse
from ..errors import ContentFilteredError, ContextLengthExceededError, UpstreamError, UpstreamUnavailableError
from ..types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    FinishReason,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from .base import Adapter, Deployment, ErrorDetails, StreamState
from .sse import SSEEvent
from .transport import UpstreamRequest

__all__ = ["OpenAIAdapter", "decode_vector", "encode_messages", "parse_usage"]

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
_CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
_FILTER_CODES = frozenset({"content_filter", "content_policy_violation"})


def _encode_content(message: Message) -> str | list[dict[str, Any]]:
    if all(isinstance(p, TextPart) for p in message.content):
        return message.text
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            image: dict[str, Any] = {"url": part.url}
            if part.detail:
                image["detail"] = part.detail
            parts.append({"type": "image_url", "image_url": image})
    return parts


def encode_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Canonical messages in OpenAI's wire shape."""
    out: list[dict[str, Any]] = []
    for message in messages:
        item: dict[str, Any] = {"role": message.role}
        if message.role == "assistant":
            item["content"] = _encode_content(message) if message.content else None
            if message.tool_calls:
                item["tool_calls"] = [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in message.tool_calls
                ]
        else:
            item["content"] = _encode_content(message)
        if message.role == "tool":
            item["tool_call_id"] = message.tool_call_id
        if message.name:
            item["name"] = message.name
        out.append(item)
    return out


def parse_usage(data: dict[str, Any] | None) -> Usage | None:
    if not data:
        return None
    prompt_details = data.get("prompt_tokens_details") or {}
    completion_details = data.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=data.get("prompt_tokens") or 0,
        output_tokens=data.get("completion_tokens") or 0,
        cached_tokens=prompt_details.get("cached_tokens") or 0,
        reasoning_tokens=completion_details.get("reasoning_tokens") or 0,
    )


def decode_vector(value: Any) -> list[float]:
    """An embedding as OpenAI sends it: a list of floats, or (``encoding_format: base64``) little-endian float32
    bytes in base64, which the official SDKs ask for by default."""
    if isinstance(value, str):
        floats = array.array("f", base64.b64decode(value, validate=True))
        if sys.byteorder == "big":
            floats.byteswap()
        return floats.tolist()
    if not isinstance(value, list):
        raise TypeError(f"embedding must be a list of numbers or a base64 string, got {type(value).__name__}")
    return value


class _OpenAIStreamState(StreamState):
    def __init__(self, request: ChatRequest, deployment: Deployment) -> None:
        super().__init__(request, deployment)
        self.usage: Usage | None = None


class OpenAIAdapter(Adapter):
    protocol: ClassVar[str] = "openai"
    path: ClassVar[str] = "/chat/completions"
    embeddings_path: ClassVar[str] = "/embeddings"

    def _build_body(self, request: ChatRequest, deployment: Deployment, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": deployment.model, "messages": encode_messages(request.messages)}
        if request.tools:
            tools = []
            for tool in request.tools:
                function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters}
                if tool.description is not None:
                    function["description"] = tool.description
                if tool.strict is not None:
                    function["strict"] = tool.strict
                tools.append({"type": "function", "function": function})
            body["tools"] = tools
        if request.tool_choice is not None:
            choice = request.tool_choice
            body["tool_choice"] = (
                {"type": "function", "function": {"name": choice.name}} if choice.mode == "tool" else choice.mode
            )
        if request.response_format is not None:
            fmt = request.response_format
            if fmt.type == "json_schema":
                schema: dict[str, Any] = {"name": fmt.name or "response", "schema": fmt.schema or {}}
                if fmt.strict is not None:
                    schema["strict"] = fmt.strict
                if fmt.description is not None:
                    schema["description"] = fmt.description
                body["response_format"] = {"type": "json_schema", "json_schema": schema}
            else:
                body["response_format"] = {"type": fmt.type}
        if request.max_tokens is not None:
            body[self.preset.max_tokens_field] = request.max_tokens
        if request.stop:
            body["stop"] = request.stop
        for name in (
            "temperature", "top_p", "seed", "n", "presence_penalty", "frequency_penalty", "logprobs",
            "top_logprobs", "logit_bias", "parallel_tool_calls", "user",
        ):
            value = getattr(request, name)
            if value is not None:
                body[name] = value
        if stream:
            body["stream"] = True
            if deployment.profile.stream_usage:
                # Always asked for: the gateway needs usage for accounting even when the client did not.
                body["stream_options"] = {"include_usage": True}
        body.update(request.extra)
        return body

    def _build_request(self, request: ChatRequest, deployment: Deployment, *, stream: bool) -> UpstreamRequest:
        body = self._build_body(request, deployment, stream=stream)
        return UpstreamRequest(
            "POST", self._url(self.path), self.headers, self._encode(body), deployment.timeout
        )

    def _process_response(self, data: Any, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        choices: list[Choice] = []
        for raw in data["choices"]:
            msg = raw.get("message") or {}
            content: list[TextPart | ImagePart] = []
            text = msg.get("content")
            if text is None:
                text = msg.get("refusal")
            if text:
                content.append(TextPart(text))
            calls = [
                ToolCall(id=c["id"], name=c["function"]["name"], arguments=c["function"].get("arguments") or "")
                for c in msg.get("tool_calls") or []
            ]
            finish = raw.get("finish_reason")
            choices.append(
                Choice(
                    index=raw.get("index", len(choices)),
                    message=Message(role="assistant", content=content, tool_calls=calls),
                    finish_reason=FINISH_REASONS.get(finish, "stop") if finish else None,
                )
            )
        return ChatResponse(
            id=data.get("id") or "",
            model=data.get("model") or deployment.model,
            created=data.get("created") or 0,
            choices=choices,
            usage=parse_usage(data.get("usage")),
            system_fingerprint=data.get("system_fingerprint"),
        )

    def _new_stream_state(self, request: ChatRequest, deployment: Deployment) -> StreamState:
        return _OpenAIStreamState(request, deployment)

    def _build_embeddings_body(self, request: EmbeddingRequest, deployment: Deployment) -> dict[str, Any]:
        # The client's encoding goes upstream as asked: base64 (the SDKs' default) is a quarter of the bytes, and a
        # server that ignores it and sends floats is read just the same.
        body: dict[str, Any] = {
            "model": deployment.model,
            "input": request.input or request.tokens,
            "encoding_format": request.encoding_format,
        }
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        if request.user is not None:
            body["user"] = request.user
        body.update(request.extra)
        return body

    def _build_embeddings_request(self, request: EmbeddingRequest, deployment: Deployment) -> UpstreamRequest:
        body = self._build_embeddings_body(request, deployment)
        return UpstreamRequest(
            "POST", self._url(self.embeddings_path), self.headers, self._encode(body), deployment.timeout
        )

    def _process_embeddings_response(
        self, data: Any, request: EmbeddingRequest, deployment: Deployment
    ) -> EmbeddingResponse:
        items = sorted(data["data"], key=lambda item: item.get("index", 0))
        usage = data.get("usage") or {}
        return EmbeddingResponse(
            model=data.get("model") or deployment.model,
            vectors=[decode_vector(item["embedding"]) for item in items],
            usage=Usage(input_tokens=usage.get("prompt_tokens") or 0) if usage else None,
        )

    def _process_stream_event(self, event: SSEEvent, state: StreamState) -> Iterable[ChatChunk]:
        assert isinstance(state, _OpenAIStreamState)
        if event.data == "[DONE]":
            state.finished = True
            if state.usage is not None:
                yield ChatChunk(id=state.id, model=state.model, created=state.created, usage=state.usage)
            return
        data = orjson.loads(event.data)
        if "error" in data:
            raise self._stream_error(data, state)
        state.id = data.get("id") or state.id
        state.model = data.get("model") or state.model
        state.created = data.get("created") or state.created
        usage = parse_usage(data.get("usage"))
        if usage is not None:
            state.usage = usage
        for raw in data.get("choices") or []:
            delta = raw.get("delta") or {}
            finish = raw.get("finish_reason")
            calls = [
                ToolCallDelta(
                    index=c.get("index", 0),
                    id=c.get("id"),
                    name=(c.get("function") or {}).get("name"),
                    arguments=(c.get("function") or {}).get("arguments") or "",
                )
                for c in delta.get("tool_calls") or []
            ]
            text = delta.get("content")
            if text is None:
                text = delta.get("refusal")
            yield ChatChunk(
                id=state.id,
                model=state.model,
                created=state.created,
                index=raw.get("index", 0),
                role=delta.get("role"),
                text=text,
                tool_calls=calls,
                finish_reason=FINISH_REASONS.get(finish, "stop") if finish else None,
            )

    def _stream_error(self, data: dict[str, Any], state: StreamState) -> UpstreamError:
        details = self._error_details(data)
        kind = self._classify_error(500, details) or UpstreamUnavailableError
        return kind(details.message, code=details.code, provider=self.provider_name,
                    deployment=state.deployment.name)

    def _error_details(self, data: Any) -> ErrorDetails:
        if isinstance(data, dict):
            error = data.get("error", data)
            if isinstance(error, dict):
                code = error.get("code")
                return ErrorDetails(
                    message=str(error.get("message") or ""),
                    code=str(code) if code is not None else None,
                    type=error.get("type"),
                )
            return ErrorDetails(str(error))
        return ErrorDetails(str(data))

    def _classify_error(self, status: int, details: ErrorDetails) -> type[UpstreamError] | None:
        if details.code in _CONTEXT_CODES:
            return ContextLengthExceededError
        if details.code in _FILTER_CODES:
            return ContentFilteredError
        return None
