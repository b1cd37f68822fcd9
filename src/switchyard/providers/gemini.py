"""Google Gemini API adapter (the Gemini Developer API at ``generativelanguage.googleapis.com``).

Canonical ⇄ ``generateContent``: messages become ``contents`` of ``user``/``model`` turns made of parts,
system messages become ``systemInstruction``, tool calls and results become ``functionCall`` and
``functionResponse`` parts, sampling parameters go in ``generationConfig``. A stream is SSE
(``:streamGenerateContent?alt=sse``) where every event is a whole response object holding the next slice of
each candidate; it has no terminator event, so a stream is complete once every candidate has reported a
``finishReason``.

``ChatRequest.extra`` is merged into the top-level body *recursively*: ``{"safetySettings": [...]}`` is added
as is, ``{"generationConfig": {"thinkingConfig": {...}}}`` joins the generation config built from the
canonical fields instead of replacing it. At every level the caller's value wins, and lists are replaced.

Embeddings go to ``:batchEmbedContents``, one ``requests`` entry per input (as the google-genai SDK sends them);
``EmbeddingRequest.extra`` (``taskType``, ``title``) is merged into each entry. The API reports no token usage
for embeddings, so the response carries the offline estimate, marked ``usage_estimated``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any, ClassVar, Final

import orjson

from ..embedding_types import EmbeddingRequest, EmbeddingResponse
from ..embeddings import estimate_input_tokens
from ..errors import (
    AuthenticationError,
    ContentFilteredError,
    ContextLengthExceededError,
    InvalidRequestError,
    MalformedResponseError,
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
from .base import Adapter, Deployment, ErrorDetails, Profile, StreamState, tool_arguments
from .sse import SSEEvent
from .transport import UpstreamRequest

__all__ = ["GeminiAdapter", "encode_contents", "parse_usage", "sanitize_schema"]

DEFAULT_API_VERSION: Final = "v1beta"

FINISH_REASONS: Final[dict[str, FinishReason]] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    **dict.fromkeys(("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
                     "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"), "content_filter"),
}
"""Every other reason (``MALFORMED_FUNCTION_CALL``, ``OTHER``, ``LANGUAGE``, ``UNEXPECTED_TOOL_CALL``, reasons
added later) maps to ``error``: in Gemini's enum anything but these means the answer is not a usable one, and
``stop`` would tell the client an empty or broken answer was complete."""

REJECTED_SCHEMA_KEYS: Final = frozenset({
    "$schema", "$id", "$comment",
    "additionalProperties", "patternProperties", "unevaluatedProperties", "propertyNames",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "uniqueItems",
    "examples", "readOnly", "writeOnly", "deprecated",
})
"""JSON Schema keys stripped from tool ``parameters`` and ``responseSchema``. Those two fields are a proto message
(a subset of OpenAPI 3.0): a key it has no field for fails the whole request with ``Unknown name "..." ...:
Cannot find field`` (the google-genai SDK itself refuses ``additionalProperties`` for this API). These are the
keys OpenAI strict mode, pydantic and zod emit that only tighten validation or annotate, so dropping them keeps
the request's meaning. Keys that change meaning (``$ref``, ``oneOf``, ``allOf``, ``not``) are left in, for the
upstream to accept or reject loudly."""

CONTEXT_LENGTH_PHRASES: Final = ("exceeds the maximum number of tokens",)
"""Gemini reports an over-long prompt as a plain 400 ``INVALID_ARGUMENT`` ("The input token count (N) exceeds the
maximum number of tokens allowed (M)."), with no reason code; the message is the only signal."""

AUTH_REASONS: Final = frozenset({"API_KEY_INVALID"})
"""``ErrorInfo.reason`` values of a bad key, which Gemini sends as 400 ``INVALID_ARGUMENT``, not 401."""

RETRY_INFO: Final = "type.googleapis.com/google.rpc.RetryInfo"
ERROR_INFO: Final = "type.googleapis.com/google.rpc.ErrorInfo"

_STATUS_KINDS: Final[dict[str, type[UpstreamError]]] = {
    "RESOURCE_EXHAUSTED": RateLimitedError,
    "UNAUTHENTICATED": AuthenticationError,
    "PERMISSION_DENIED": PermissionDeniedError,
    "NOT_FOUND": UpstreamNotFoundError,
    "UNAVAILABLE": UpstreamUnavailableError,
    "DEADLINE_EXCEEDED": UpstreamTimeoutError,
}

# A URL's image type, by extension. A small table rather than ``mimetypes``, which reads system files on first use
# (blocking I/O in the event loop) and answers differently per machine.
_IMAGE_TYPES: Final = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
    ".heic": "image/heic", ".heif": "image/heif", ".bmp": "image/bmp", ".pdf": "application/pdf",
}

# canonical field → generationConfig field
_GENERATION_FIELDS: Final = (
    ("temperature", "temperature"), ("top_p", "topP"), ("max_tokens", "maxOutputTokens"), ("seed", "seed"),
    ("n", "candidateCount"), ("presence_penalty", "presencePenalty"), ("frequency_penalty", "frequencyPenalty"),
    ("logprobs", "responseLogprobs"), ("top_logprobs", "logprobs"),
)


def _image_type(url: str) -> str:
    name = url.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[-1].lower()
    _, dot, extension = name.rpartition(".")
    return _IMAGE_TYPES.get(f".{extension}", "image/jpeg") if dot else "image/jpeg"


def _encode_parts(content: list[Part]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            # Gemini rejects an empty text part ("empty text parameter"); it carries nothing anyway.
            if part.text:
                parts.append({"text": part.text})
        elif part.is_inline:
            media_type, data = part.inline_data()
            parts.append({"inlineData": {"mimeType": media_type, "data": data}})
        else:
            # Gemini fetches the URI itself (Files API, YouTube and, on recent models, public URLs); downloading it
            # here would put blocking fetches of arbitrary URLs in the gateway. ``detail`` has no Gemini equivalent.
            parts.append({"fileData": {"fileUri": part.url, "mimeType": _image_type(part.url)}})
    return parts


def _function_response(message: Message, names: dict[str, str]) -> dict[str, Any]:
    call_id = message.tool_call_id or ""
    name = names.get(call_id)
    if name is None:
        raise InvalidRequestError(
            f"tool message answers tool_call_id '{call_id}', which no earlier assistant message made; Gemini needs "
            "the function's name, taken from that call",
            param="messages",
        )
    text = message.text
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    # Gemini's convention: ``output``/``result`` for a result, ``error`` for a failure; an object stands for itself.
    if message.is_error:
        response = {"error": value if isinstance(value, dict) else text}
    else:
        response = value if isinstance(value, dict) else {"result": text}
    function: dict[str, Any] = {"name": name, "response": response}
    if call_id:
        function["id"] = call_id
    return {"functionResponse": function}


def encode_contents(messages: list[Message]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Canonical messages as Gemini's ``(systemInstruction parts, contents)``.

    Every system message joins the one system instruction Gemini has. Tool results go in a ``user`` turn, and
    consecutive turns of one role merge: Gemini wants all results of one model turn's calls in one turn.
    A message with no parts (an empty assistant turn) is left out, since Gemini rejects empty turns."""
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for message in messages:
        if message.role == "system":
            system.extend(_encode_parts(message.content))
            continue
        if message.role == "tool":
            role = "user"
            parts = [_function_response(message, names), *_encode_parts(
                [p for p in message.content if isinstance(p, ImagePart)]
            )]
        else:
            role = "model" if message.role == "assistant" else "user"
            parts = _encode_parts(message.content)
        for call in message.tool_calls:
            names[call.id] = call.name
            function: dict[str, Any] = {"name": call.name, "args": tool_arguments(call)}
            if call.id:
                function["id"] = call.id
            parts.append({"functionCall": function})
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return system, contents


def sanitize_schema(schema: Any) -> Any:
    """A copy of a JSON schema without :data:`REJECTED_SCHEMA_KEYS`, and with JSON Schema's nullable spelling
    (``"type": ["string", "null"]``) in OpenAPI's (``"type": "string", "nullable": true``)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in REJECTED_SCHEMA_KEYS:
            continue
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            # A map of names to schemas: the names are data, never keywords to strip.
            out[key] = {name: sanitize_schema(sub) for name, sub in value.items()}
        elif key in ("items", "not"):
            out[key] = sanitize_schema(value)
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems") and isinstance(value, list):
            out[key] = [sanitize_schema(sub) for sub in value]
        elif key == "type" and isinstance(value, list):
            kinds = [k for k in value if k != "null"]
            if kinds:
                out[key] = kinds[0] if len(kinds) == 1 else kinds
            if len(kinds) < len(value):
                out["nullable"] = True
        else:
            out[key] = value
    return out


def _merge(body: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        current = body.get(key)
        body[key] = _merge(dict(current), value) if isinstance(current, dict) and isinstance(value, dict) else value
    return body


def parse_usage(data: dict[str, Any] | None) -> Usage | None:
    """``usageMetadata`` → :class:`Usage`. Thinking tokens are billed as output, so they count there too; tokens of
    tool-use prompts (search results and the like) count as input, so the total matches ``totalTokenCount``."""
    if not data:
        return None
    thoughts = data.get("thoughtsTokenCount") or 0
    return Usage(
        input_tokens=(data.get("promptTokenCount") or 0) + (data.get("toolUsePromptTokenCount") or 0),
        output_tokens=(data.get("candidatesTokenCount") or 0) + thoughts,
        cached_tokens=data.get("cachedContentTokenCount") or 0,
        reasoning_tokens=thoughts,
    )


def _new_call_id() -> str:
    # Gemini usually sends no call ids. Random rather than counted ids: a conversation collects calls from many
    # responses, and some providers it may fall back to (Anthropic) reject a history with duplicate ids.
    return f"call_{secrets.token_hex(12)}"


def _finish(reason: str | None, has_calls: bool) -> FinishReason | None:
    if not reason:
        return None
    finish = FINISH_REASONS.get(reason, "error")
    # Gemini ends a turn of function calls with STOP; a truncated or filtered one keeps its own reason.
    return "tool_calls" if has_calls and finish == "stop" else finish


def _read_parts(parts: list[dict[str, Any]]) -> tuple[str, list[ToolCall]]:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for part in parts:
        if "functionCall" in part:
            function = part["functionCall"]
            calls.append(ToolCall(
                id=function.get("id") or _new_call_id(),
                name=function["name"],
                arguments=orjson.dumps(function.get("args") or {}).decode(),
            ))
        elif "text" in part and not part.get("thought"):
            # Thought summaries (``thought: true``) are the model's notes, not its answer.
            texts.append(part["text"])
    return "".join(texts), calls


class _GeminiStreamState(StreamState):
    def __init__(self, request: ChatRequest, deployment: Deployment) -> None:
        super().__init__(request, deployment)
        self.usage: Usage | None = None
        self.seen: set[int] = set()  # candidates that have sent anything
        self.done: set[int] = set()  # candidates that have sent their finishReason
        self.calls: dict[int, int] = {}  # tool calls so far per candidate: the next ToolCallDelta.index


class GeminiAdapter(Adapter):
    """The Gemini Developer API's ``generateContent`` / ``streamGenerateContent``. ``base_url`` is the host, as in the
    google-genai SDK; ``api_version`` (default ``v1beta``) is the path's first segment."""

    protocol: ClassVar[str] = "gemini"
    default_profile: ClassVar[Profile] = Profile(
        logit_bias=False, parallel_tool_calls=False, message_name=False, embedding_tokens=False
    )

    def _path(self, model: str, method: str) -> str:
        # A bare id is a base model; ``tunedModels/...`` (or an explicit ``models/...``) names its own collection.
        resource = model if "/" in model else f"models/{model}"
        return f"/{self.api_version or DEFAULT_API_VERSION}/{resource}:{method}"

    def _build_body(self, request: ChatRequest) -> dict[str, Any]:
        system, contents = encode_contents(request.messages)
        body: dict[str, Any] = {"contents": contents}
        if system:
            body["systemInstruction"] = {"parts": system}
        if request.tools:
            declarations = []
            for tool in request.tools:
                declaration: dict[str, Any] = {"name": tool.name}
                if tool.description:
                    declaration["description"] = tool.description
                parameters = sanitize_schema(tool.parameters)
                # Gemini rejects an OBJECT schema with no properties; a function without arguments omits it.
                if parameters.get("properties") or parameters.get("type", "object") != "object":
                    declaration["parameters"] = parameters
                declarations.append(declaration)
            body["tools"] = [{"functionDeclarations": declarations}]
        if request.tool_choice is not None:
            choice = request.tool_choice
            config: dict[str, Any] = {"mode": {"auto": "AUTO", "none": "NONE"}.get(choice.mode, "ANY")}
            if choice.mode == "tool" and choice.name:
                config["allowedFunctionNames"] = [choice.name]
            body["toolConfig"] = {"functionCallingConfig": config}
        generation: dict[str, Any] = {}
        for field, wire in _GENERATION_FIELDS:
            value = getattr(request, field)
            if value is not None:
                generation[wire] = value
        if request.stop:
            generation["stopSequences"] = request.stop
        fmt = request.response_format
        if fmt is not None and fmt.type != "text":
            generation["responseMimeType"] = "application/json"
            if fmt.type == "json_schema" and fmt.schema:
                generation["responseSchema"] = sanitize_schema(fmt.schema)
        if generation:
            body["generationConfig"] = generation
        # ``user`` has no Gemini counterpart (it is an abuse-monitoring hint), so it is not sent.
        return _merge(body, request.extra) if request.extra else body

    def _build_request(self, request: ChatRequest, deployment: Deployment, *, stream: bool) -> UpstreamRequest:
        if stream:
            url = self._url(self._path(deployment.model, "streamGenerateContent"), {"alt": "sse"})
        else:
            url = self._url(self._path(deployment.model, "generateContent"))
        return UpstreamRequest("POST", url, self.headers, self._encode(self._build_body(request)), deployment.timeout)

    def _build_embeddings_request(self, request: EmbeddingRequest, deployment: Deployment) -> UpstreamRequest:
        resource = deployment.model if "/" in deployment.model else f"models/{deployment.model}"
        requests = []
        for text in request.input:
            entry: dict[str, Any] = {"model": resource, "content": {"parts": [{"text": text}]}}
            if request.dimensions is not None:
                entry["outputDimensionality"] = request.dimensions
            requests.append(_merge(entry, request.extra) if request.extra else entry)
        url = self._url(self._path(deployment.model, "batchEmbedContents"))
        body = self._encode({"requests": requests})
        return UpstreamRequest("POST", url, self.headers, body, deployment.timeout)

    def _process_embeddings_response(
        self, data: Any, request: EmbeddingRequest, deployment: Deployment
    ) -> EmbeddingResponse:
        vectors = [embedding["values"] for embedding in _object(data)["embeddings"]]
        reported = data.get("usageMetadata")
        if reported:
            usage = Usage(input_tokens=reported.get("promptTokenCount") or 0)
        else:
            usage = Usage(input_tokens=estimate_input_tokens(request))
        return EmbeddingResponse(
            model=deployment.model, vectors=vectors, usage=usage, usage_estimated=not reported
        )

    def _blocked(self, data: dict[str, Any], deployment: Deployment) -> UpstreamError:
        feedback = data.get("promptFeedback") or {}
        reason, detail = feedback.get("blockReason"), feedback.get("blockReasonMessage")
        provider, name = self.provider_name, deployment.name
        if not reason:
            return MalformedResponseError("upstream answered with no candidates", provider=provider, deployment=name)
        message = f"Gemini blocked the prompt ({reason})" + (f": {detail}" if detail else "")
        return ContentFilteredError(message, code=reason, provider=provider, deployment=name)

    def _process_response(self, data: Any, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        candidates = _object(data).get("candidates") or []
        if not candidates:
            raise self._blocked(data, deployment)
        choices: list[Choice] = []
        for position, raw in enumerate(candidates):
            text, calls = _read_parts((raw.get("content") or {}).get("parts") or [])
            choices.append(Choice(
                index=raw.get("index", position),
                message=Message(role="assistant", content=[TextPart(text)] if text else [], tool_calls=calls),
                finish_reason=_finish(raw.get("finishReason"), bool(calls)),
            ))
        return ChatResponse(
            id=data.get("responseId") or "",
            model=data.get("modelVersion") or deployment.model,
            choices=choices,
            usage=parse_usage(data.get("usageMetadata")),
        )

    def _new_stream_state(self, request: ChatRequest, deployment: Deployment) -> StreamState:
        return _GeminiStreamState(request, deployment)

    def _process_stream_event(self, event: SSEEvent, state: StreamState) -> Iterable[ChatChunk]:
        assert isinstance(state, _GeminiStreamState)
        data = _object(orjson.loads(event.data))
        if "error" in data:
            error = data["error"]
            status = error.get("code") if isinstance(error, dict) else None
            raise self._map_error(status if isinstance(status, int) else 500, {}, event.data.encode(),
                                  state.deployment)
        state.id = data.get("responseId") or state.id
        state.model = data.get("modelVersion") or state.model
        state.usage = parse_usage(data.get("usageMetadata")) or state.usage
        candidates = data.get("candidates") or []
        if not candidates and not state.seen and (data.get("promptFeedback") or {}).get("blockReason"):
            raise self._blocked(data, state.deployment)
        for position, raw in enumerate(candidates):
            index = raw.get("index", position)
            text, calls = _read_parts((raw.get("content") or {}).get("parts") or [])
            first = index not in state.seen
            state.seen.add(index)
            start = state.calls.get(index, 0)
            state.calls[index] = start + len(calls)
            # Gemini sends each call whole, so one delta carries id, name and all the arguments.
            deltas = [ToolCallDelta(index=start + i, id=c.id, name=c.name, arguments=c.arguments)
                      for i, c in enumerate(calls)]
            finish = _finish(raw.get("finishReason"), state.calls[index] > 0)
            if finish is not None:
                state.done.add(index)
            if first or text or deltas or finish:
                yield ChatChunk(
                    id=state.id, model=state.model, created=state.created, index=index,
                    role="assistant" if first else None, text=text or None, tool_calls=deltas, finish_reason=finish,
                )
        if state.seen and state.done >= state.seen and not state.finished:
            # The last candidate has finished: this event carries the final usage, and nothing follows but EOF.
            state.finished = True
            if state.usage is not None:
                yield ChatChunk(id=state.id, model=state.model, created=state.created, usage=state.usage)

    def _error_details(self, data: Any) -> ErrorDetails:
        if isinstance(data, list) and data:
            # ``streamGenerateContent`` without ``alt=sse`` answers with a JSON array, errors included.
            data = data[0]
        error = data.get("error", data) if isinstance(data, dict) else data
        if not isinstance(error, dict):
            return ErrorDetails(str(error))
        status = error.get("status")
        reason: str | None = None
        retry_after: float | None = None
        for detail in error.get("details") or []:
            if not isinstance(detail, dict):
                continue
            if detail.get("@type") == ERROR_INFO:
                reason = detail.get("reason") or reason
            elif detail.get("@type") == RETRY_INFO:
                retry_after = _duration(detail.get("retryDelay"))
        return ErrorDetails(
            message=str(error.get("message") or ""), code=reason or status, type=status, retry_after=retry_after
        )

    def _classify_error(self, status: int, details: ErrorDetails) -> type[UpstreamError] | None:
        if details.code in AUTH_REASONS:
            return AuthenticationError
        message = details.message.lower()
        if any(phrase in message for phrase in CONTEXT_LENGTH_PHRASES):
            return ContextLengthExceededError
        return _STATUS_KINDS.get(details.type or "")


def _object(data: Any) -> dict[str, Any]:
    # Base turns TypeError into MalformedResponseError; ``.get`` on a list would be an unmapped AttributeError.
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    return data


def _duration(value: Any) -> float | None:
    """A protobuf ``Duration`` in its JSON form (``"30s"``, ``"1.500s"``) as seconds."""
    if not isinstance(value, str) or not value.endswith("s"):
        return None
    try:
        return max(0.0, float(value[:-1]))
    except ValueError:
        return None
