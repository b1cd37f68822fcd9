"""The skeleton every provider adapter follows.

An adapter is wire translation only: ``_build_request`` (canonical → upstream request),
``_process_response`` (upstream JSON → canonical), ``_new_stream_state`` + ``_process_stream_event``
(upstream SSE → canonical chunks) and ``_error_details`` (upstream error body → message/code), plus the
optional ``_classify_error`` hook for provider-specific error kinds. Adapters whose provider has an embeddings
endpoint add ``_build_embeddings_request`` and ``_process_embeddings_response``. Sending, reading, error mapping,
capability checks and stream completion checks live here once.

Credentials, base URLs and vendor quirks come from the :class:`Preset` (see ``presets.py``); capability
flags from the :class:`Profile`.
"""

from __future__ import annotations

import email.utils
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode

import orjson

from ..config import ModelConfig, ProviderConfig, Timeouts
from ..embedding_types import EmbeddingRequest, EmbeddingResponse
from ..errors import (
    AuthenticationError,
    BadRequestError,
    ConfigError,
    InvalidRequestError,
    MalformedResponseError,
    PermissionDeniedError,
    RateLimitedError,
    UnsupportedFeatureError,
    UpstreamError,
    UpstreamNotFoundError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from ..types import ChatChunk, ChatRequest, ChatResponse, ImagePart, Mode, ToolCall
from .sse import SSEEvent, iter_sse
from .transport import Transport, UpstreamRequest, UpstreamResponse

__all__ = ["Adapter", "AuthStyle", "Deployment", "ErrorDetails", "Preset", "Profile", "StreamState", "tool_arguments"]

AuthStyle = Literal["bearer", "api-key", "x-api-key", "x-goog-api-key", "none"]


@dataclass(frozen=True, slots=True)
class Profile:
    """What a provider (or one model of it) can do. A request using a missing capability is rejected
    with ``UnsupportedFeatureError`` before anything is sent."""

    tools: bool = True
    vision: bool = True
    json_object: bool = True
    json_schema: bool = True
    n: bool = True
    seed: bool = True
    penalties: bool = True
    logprobs: bool = True
    logit_bias: bool = True
    parallel_tool_calls: bool = True
    message_name: bool = True
    stream_usage: bool = True
    """Upstream honours ``stream_options.include_usage``; without it streamed usage is unknown."""
    embeddings: bool = True
    """The provider has an embeddings endpoint (Anthropic has none)."""
    embedding_tokens: bool = True
    """Embedding inputs may be token arrays, not only text (OpenAI's wire format; Gemini takes text only)."""

    def with_overrides(self, overrides: Mapping[str, bool], *, key: str) -> Profile:
        known = {f.name for f in fields(self)}
        for name in overrides:
            if name not in known:
                raise ConfigError(f"unknown capability '{name}' (known: {', '.join(sorted(known))})", key=key)
        return replace(self, **overrides)


@dataclass(frozen=True, slots=True)
class Preset:
    """How to reach one vendor with one adapter: a vendor is data, not code."""

    adapter: type[Adapter]
    base_url: str | None
    """``None``: the configuration must give one."""
    auth: AuthStyle
    api_key_env: str | None = None
    """Environment variable read when the configuration gives no ``api_key``."""
    profile: Profile = field(default_factory=Profile)
    query: Mapping[str, str] = field(default_factory=dict)
    """Query parameters on every call (Azure AI's ``api-version``)."""
    base_url_suffix: str = ""
    """Appended to a configured ``base_url`` that lacks it (Ollama's ``/v1``)."""
    max_tokens_field: str = "max_tokens"
    renamed_fields: Mapping[str, str] = field(default_factory=dict)
    """Canonical field → vendor field, for vendors that spell a standard parameter differently."""
    default_api_version: str | None = None


@dataclass(frozen=True, slots=True)
class Deployment:
    """A configured model resolved for calling: which adapter, which upstream model, what limits."""

    name: str
    provider: str
    model: str
    adapter: Adapter
    profile: Profile
    timeout: Timeouts
    max_output_tokens: int | None = None
    context_window: int | None = None
    mode: Mode = "chat"
    """Chat completions or embeddings: a deployment serves one kind of request, never the other."""

    @classmethod
    def from_config(
        cls, name: str, config: ModelConfig, adapter: Adapter, *, mode: Mode = "chat"
    ) -> Deployment:
        profile = adapter.preset.profile
        if config.capabilities:
            profile = profile.with_overrides(config.capabilities, key=f"models.{name}.capabilities")
        if mode == "embedding" and not profile.embeddings:
            raise ConfigError(f"provider '{config.provider}' has no embeddings API", key=f"models.{name}.mode")
        return cls(
            name=name,
            provider=adapter.provider_name,
            model=config.model,
            adapter=adapter,
            profile=profile,
            timeout=config.timeout or adapter.config.timeout,
            max_output_tokens=config.max_output_tokens,
            context_window=config.context_window,
            mode=mode,
        )

    async def chat(self, request: ChatRequest) -> ChatResponse:
        return await self.adapter.chat(request, self)

    def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        return self.adapter.stream(request, self)

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        return await self.adapter.embed(request, self)


@dataclass(slots=True)
class ErrorDetails:
    message: str
    code: str | None = None
    type: str | None = None
    retry_after: float | None = None
    """Seconds to wait, when the body says so (Google's ``RetryInfo``); a ``Retry-After`` header wins."""


class StreamState:
    """Per-stream bookkeeping; adapters subclass it for what their event sequence needs."""

    def __init__(self, request: ChatRequest, deployment: Deployment) -> None:
        self.request = request
        self.deployment = deployment
        self.id = ""
        self.model = deployment.model
        self.created = int(time.time())
        self.finished = False


def tool_arguments(call: ToolCall) -> dict[str, Any]:
    """A tool call's arguments as the JSON object that Anthropic (``input``) and Gemini (``args``) want; OpenAI
    carries them as a string, so a client's malformed arguments are only found here."""
    if not call.arguments.strip():
        return {}
    try:
        value = orjson.loads(call.arguments)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(f"tool call '{call.id}' has arguments that are not valid JSON", param="messages") \
            from exc
    if not isinstance(value, dict):
        raise InvalidRequestError(f"tool call '{call.id}' arguments must be a JSON object", param="messages")
    return value


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        # A malformed header must not turn a rate limit into an unmapped crash: the wait is just unknown.
        return None
    return max(0.0, parsed.timestamp() - time.time())


class Adapter(ABC):
    """One wire protocol. Subclasses implement the five translation methods below."""

    protocol: ClassVar[str]
    default_profile: ClassVar[Profile] = Profile()

    def __init__(self, provider_name: str, config: ProviderConfig, preset: Preset, transport: Transport) -> None:
        self.provider_name = provider_name
        self.config = config
        self.preset = preset
        self.transport = transport
        base_url = config.base_url or preset.base_url or ""
        if preset.base_url_suffix and not base_url.rstrip("/").endswith(preset.base_url_suffix):
            base_url = base_url.rstrip("/") + preset.base_url_suffix
        self.base_url = base_url.rstrip("/")
        self.api_version = config.api_version or preset.default_api_version
        self.headers = self._auth_headers(config.api_key.get() if config.api_key else None)
        self.headers.update(config.headers)

    def _auth_headers(self, api_key: str | None) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        style = self.preset.auth
        if api_key and style == "bearer":
            headers["authorization"] = f"Bearer {api_key}"
        elif api_key and style != "none":
            headers[style] = api_key
        return headers

    # -- the public surface --------------------------------------------------------------------------------

    async def chat(self, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        self.check_request(request, deployment)
        data = await self._exchange(self._build_request(request, deployment, stream=False), deployment)
        try:
            return self._process_response(data, request, deployment)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise self._malformed(exc, deployment) from exc

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        self.check_embeddings(request, deployment)
        data = await self._exchange(self._build_embeddings_request(request, deployment), deployment)
        try:
            response = self._process_embeddings_response(data, request, deployment)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise self._malformed(exc, deployment) from exc
        if len(response.vectors) != request.count:
            raise MalformedResponseError(
                f"upstream returned {len(response.vectors)} embeddings for {request.count} inputs",
                provider=self.provider_name, deployment=deployment.name,
            )
        return response

    async def stream(self, request: ChatRequest, deployment: Deployment) -> AsyncGenerator[ChatChunk, None]:
        self.check_request(request, deployment)
        upstream = self._build_request(request, deployment, stream=True)
        response = await self._send(upstream, deployment)
        state = self._new_stream_state(request, deployment)
        try:
            async for event in iter_sse(response.iter_chunks()):
                try:
                    chunks = list(self._process_stream_event(event, state))
                except (KeyError, TypeError, ValueError, IndexError) as exc:
                    raise MalformedResponseError(
                        f"unexpected stream event from upstream: {type(exc).__name__}: {exc}",
                        provider=self.provider_name,
                        deployment=deployment.name,
                    ) from exc
                for chunk in chunks:
                    yield chunk
            # No early exit on the terminal event: reading on to EOF consumes the chunked-encoding trailer,
            # which lets the connection go back to the pool instead of being closed.
        except UpstreamError as exc:
            raise self._attribute(exc, deployment) from exc.__cause__
        finally:
            response.close()
        if not state.finished:
            raise UpstreamUnavailableError(
                "upstream stream ended before it was complete",
                provider=self.provider_name,
                deployment=deployment.name,
            )

    def check_request(self, request: ChatRequest, deployment: Deployment) -> None:
        """Reject, before sending, anything this deployment cannot honour."""
        if deployment.mode != "chat":
            raise UnsupportedFeatureError(
                self.provider_name, "chat completions", model=deployment.model,
                hint=f"'{deployment.name}' is an embedding model: send it to /v1/embeddings",
            )
        profile = deployment.profile
        for flag, feature, used in _FEATURES:
            # The flag first: for a fully capable provider no request is inspected at all.
            if not getattr(profile, flag) and used(request):
                raise UnsupportedFeatureError(self.provider_name, feature, model=deployment.model)
        for message in request.messages:
            for part in message.content:
                if isinstance(part, ImagePart) and part.is_inline:
                    try:
                        part.inline_data()
                    except ValueError as exc:
                        raise InvalidRequestError(str(exc), param="messages") from exc

    def check_embeddings(self, request: EmbeddingRequest, deployment: Deployment) -> None:
        """Reject, before sending, an embeddings request this deployment cannot honour."""
        profile = deployment.profile
        if not profile.embeddings:
            raise UnsupportedFeatureError(self.provider_name, "embeddings", model=deployment.model)
        if deployment.mode != "embedding":
            raise UnsupportedFeatureError(
                self.provider_name, "embeddings", model=deployment.model,
                hint=f"'{deployment.name}' is a chat model (set `mode: embedding` on a model that embeds)",
            )
        if request.tokens and not profile.embedding_tokens:
            raise UnsupportedFeatureError(self.provider_name, "token-array embedding input", model=deployment.model,
                                          hint="send the input as text")

    # -- what each adapter implements ---------------------------------------------------------------------

    @abstractmethod
    def _build_request(self, request: ChatRequest, deployment: Deployment, *, stream: bool) -> UpstreamRequest:
        """Translate a canonical request into the upstream HTTP request."""

    @abstractmethod
    def _process_response(self, data: Any, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        """Translate the upstream JSON body into a canonical response."""

    @abstractmethod
    def _new_stream_state(self, request: ChatRequest, deployment: Deployment) -> StreamState:
        """Fresh bookkeeping for one stream."""

    @abstractmethod
    def _process_stream_event(self, event: SSEEvent, state: StreamState) -> Iterable[ChatChunk]:
        """Translate one upstream SSE event; set ``state.finished`` on the stream's terminal event."""

    @abstractmethod
    def _error_details(self, data: Any) -> ErrorDetails:
        """Pull message and code out of an upstream error body (already JSON-decoded, or raw text)."""

    def _classify_error(self, status: int, details: ErrorDetails) -> type[UpstreamError] | None:
        """Provider-specific error kinds (context length, content filter); ``None``: decide by status."""
        return None

    def _build_embeddings_request(self, request: EmbeddingRequest, deployment: Deployment) -> UpstreamRequest:
        """Translate a canonical embeddings request; adapters of providers with an embeddings endpoint override it
        (``check_embeddings`` keeps everyone else from getting here)."""
        raise UnsupportedFeatureError(self.provider_name, "embeddings", model=deployment.model)

    def _process_embeddings_response(
        self, data: Any, request: EmbeddingRequest, deployment: Deployment
    ) -> EmbeddingResponse:
        """Translate the upstream embeddings body into a canonical response, vectors in input order."""
        raise UnsupportedFeatureError(self.provider_name, "embeddings", model=deployment.model)

    # -- shared machinery ---------------------------------------------------------------------------------

    def _encode(self, body: dict[str, Any]) -> bytes:
        for canonical, vendor in self.preset.renamed_fields.items():
            if canonical in body:
                body[vendor] = body.pop(canonical)
        return orjson.dumps(body)

    def _url(self, path: str, query: Mapping[str, str] | None = None) -> str:
        params = dict(self.preset.query)
        if query:
            params.update(query)
        url = f"{self.base_url}{path}"
        if params:
            url = f"{url}?{urlencode(params)}"
        return url

    async def _send(self, upstream: UpstreamRequest, deployment: Deployment) -> UpstreamResponse:
        try:
            response = await self.transport.send(upstream)
        except UpstreamError as exc:
            raise self._attribute(exc, deployment) from exc.__cause__
        if response.status >= 400:
            try:
                body = await response.read()
            except UpstreamError:
                body = b""
            finally:
                response.close()
            raise self._map_error(response.status, response.headers, body, deployment)
        return response

    async def _exchange(self, upstream: UpstreamRequest, deployment: Deployment) -> Any:
        """Send a non-streaming request and return its decoded JSON body."""
        response = await self._send(upstream, deployment)
        try:
            body = await response.read()
        except UpstreamError as exc:
            raise self._attribute(exc, deployment) from exc.__cause__
        finally:
            response.close()
        return self._decode(body, deployment)

    def _malformed(self, exc: Exception, deployment: Deployment) -> MalformedResponseError:
        return MalformedResponseError(
            f"unexpected response shape from upstream: {type(exc).__name__}: {exc}",
            provider=self.provider_name,
            deployment=deployment.name,
        )

    def _attribute(self, exc: UpstreamError, deployment: Deployment) -> UpstreamError:
        exc.provider = exc.provider or self.provider_name
        exc.deployment = exc.deployment or deployment.name
        return exc

    def _decode(self, body: bytes, deployment: Deployment) -> Any:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise MalformedResponseError(
                f"upstream returned invalid JSON ({len(body)} bytes)",
                provider=self.provider_name,
                deployment=deployment.name,
            ) from exc

    def _map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, deployment: Deployment
    ) -> UpstreamError:
        try:
            data: Any = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            data = body.decode("utf-8", "replace")[:500]
        try:
            details = self._error_details(data)
        except (KeyError, TypeError, AttributeError, IndexError):
            details = ErrorDetails(str(data)[:500] if data else f"HTTP {status}")
        message = details.message or f"HTTP {status}"
        kind = self._classify_error(status, details) or _STATUS_ERRORS.get(status)
        attribution = {"provider": self.provider_name, "deployment": deployment.name}
        if status == 429 or kind is RateLimitedError:
            retry_after = parse_retry_after(headers)
            return RateLimitedError(
                message, retry_after=details.retry_after if retry_after is None else retry_after,
                upstream_status=status, code=details.code, **attribution,
            )
        if kind is None:
            kind = UpstreamUnavailableError if status >= 500 else BadRequestError
        return kind(message, upstream_status=status, code=details.code, **attribution)


def _uses_format(kind: str) -> Callable[[ChatRequest], bool]:
    return lambda r: r.response_format is not None and r.response_format.type == kind


# (Profile flag, how the error names it, whether a request uses it)
_FEATURES: tuple[tuple[str, str, Callable[[ChatRequest], bool]], ...] = (
    ("tools", "tools", lambda r: bool(r.tools)),
    ("vision", "images (vision)", lambda r: any(m.has_images for m in r.messages)),
    ("json_object", "response_format json_object", _uses_format("json_object")),
    ("json_schema", "response_format json_schema", _uses_format("json_schema")),
    ("n", "n > 1", lambda r: r.n is not None and r.n > 1),
    ("seed", "seed", lambda r: r.seed is not None),
    ("penalties", "presence_penalty/frequency_penalty",
     lambda r: r.presence_penalty is not None or r.frequency_penalty is not None),
    ("logprobs", "logprobs", lambda r: bool(r.logprobs) or r.top_logprobs is not None),
    ("logit_bias", "logit_bias", lambda r: bool(r.logit_bias)),
    ("parallel_tool_calls", "parallel_tool_calls", lambda r: r.parallel_tool_calls is not None),
    ("message_name", "message 'name' fields", lambda r: any(m.name for m in r.messages)),
)

_STATUS_ERRORS: dict[int, type[UpstreamError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: UpstreamNotFoundError,
    408: UpstreamTimeoutError,
    413: BadRequestError,
    422: BadRequestError,
    504: UpstreamTimeoutError,
}
