"""Canonical, provider-neutral chat types.

Every ingress format is parsed into these and every provider adapter translates from them, so
OpenAI ⇄ canonical ⇄ Anthropic ⇄ canonical ⇄ Gemini goes through one model. The model is a superset:
content is a list of parts (text, image), tool calls live on assistant messages and tool results are
``tool`` messages, as in OpenAI's API, because that is the shape most clients send and both Anthropic
blocks and Gemini parts map onto it without loss.

Fields a provider cannot honour are rejected by its adapter with a clear error; fields we do not model
travel in ``ChatRequest.extra`` and are sent verbatim to the upstream body (an explicit passthrough).

This module imports nothing of ours.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import msgspec

__all__ = [
    "Attempt",
    "ChatChunk",
    "ChatRequest",
    "ChatResponse",
    "Choice",
    "FinishReason",
    "ImagePart",
    "Message",
    "Mode",
    "Part",
    "ResponseFormat",
    "ResponseMeta",
    "Role",
    "RouteDecision",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "Usage",
]

Role = Literal["system", "user", "assistant", "tool"]

Mode = Literal["chat", "embedding"]
"""What a deployment serves, and what a request asks for: chat completions or embeddings."""

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]
"""Normalized finish reasons. Providers' own reasons map onto these (e.g. Anthropic ``end_turn`` → ``stop``,
``max_tokens`` → ``length``, ``tool_use`` → ``tool_calls``; Gemini ``SAFETY`` → ``content_filter``)."""


class TextPart(msgspec.Struct, tag="text", tag_field="type", frozen=True):
    text: str


class ImagePart(msgspec.Struct, tag="image", tag_field="type", frozen=True):
    """An image, either by URL or inline as a ``data:`` URI (``data:image/png;base64,...``)."""

    url: str
    detail: Literal["auto", "low", "high"] | None = None

    @property
    def is_inline(self) -> bool:
        return self.url.startswith("data:")

    def inline_data(self) -> tuple[str, str]:
        """Return ``(media_type, base64_data)`` of an inline image; raises ``ValueError`` if malformed."""
        header, sep, data = self.url.partition(",")
        if not sep or not header.startswith("data:") or not header.endswith(";base64"):
            raise ValueError("image data URI must look like data:<media-type>;base64,<data>")
        return header[5 : -len(";base64")], data


Part = TextPart | ImagePart


class ToolCall(msgspec.Struct, frozen=True):
    """A call the model asked for. ``arguments`` is JSON text, exactly as the model produced it."""

    id: str
    name: str
    arguments: str


class Message(msgspec.Struct, kw_only=True):
    role: Role
    content: list[Part] = msgspec.field(default_factory=list)
    tool_calls: list[ToolCall] = msgspec.field(default_factory=list)
    tool_call_id: str | None = None
    """For ``role == "tool"``: the id of the call this message answers."""
    name: str | None = None
    is_error: bool = False
    """For ``role == "tool"``: the tool failed (Anthropic's ``is_error``)."""

    @classmethod
    def system(cls, text: str) -> Message:
        return cls(role="system", content=[TextPart(text)])

    @classmethod
    def user(cls, text: str, *images: str) -> Message:
        """A user turn: text, then any images given as URLs or ``data:`` URIs."""
        parts: list[Part] = [TextPart(text)]
        parts.extend(ImagePart(url) for url in images)
        return cls(role="user", content=parts)

    @classmethod
    def assistant(cls, text: str) -> Message:
        return cls(role="assistant", content=[TextPart(text)])

    @property
    def text(self) -> str:
        """The message's text parts joined; images are skipped."""
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def has_images(self) -> bool:
        return any(isinstance(p, ImagePart) for p in self.content)


class Tool(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    description: str | None = None
    parameters: dict[str, Any] = msgspec.field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None


class ToolChoice(msgspec.Struct, frozen=True):
    """``auto`` (model decides), ``none``, ``required`` (some tool), or ``tool`` (the one named)."""

    mode: Literal["auto", "none", "required", "tool"]
    name: str | None = None


class ResponseFormat(msgspec.Struct, kw_only=True, frozen=True):
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None


class ChatRequest(msgspec.Struct, kw_only=True):
    """One chat completion request, as the gateway understands it."""

    model: str
    messages: list[Message]
    tools: list[Tool] = msgspec.field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] = msgspec.field(default_factory=list)
    seed: int | None = None
    n: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias: dict[str, float] | None = None
    user: str | None = None
    stream: bool = False
    include_usage: bool = False
    """Streams only: send a final chunk with usage (OpenAI's ``stream_options.include_usage``)."""
    extra: dict[str, Any] = msgspec.field(default_factory=dict)
    """Fields we do not model, sent verbatim into the upstream request body."""
    tags: list[str] = msgspec.field(default_factory=list)
    """Routing tags (``x-switchyard-tags``, ``metadata.tags``): only deployments satisfying them serve. Not sent."""
    session: str | None = None
    """Conversation id (``x-switchyard-session``) for routes with session affinity. Not sent upstream."""


class Usage(msgspec.Struct, kw_only=True):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    """Input tokens served from the provider's prompt cache (a subset of ``input_tokens``)."""
    reasoning_tokens: int = 0
    """Output tokens spent on hidden reasoning (a subset of ``output_tokens``)."""

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class Choice(msgspec.Struct, kw_only=True):
    index: int
    message: Message
    finish_reason: FinishReason | None = None


class Attempt(msgspec.Struct, kw_only=True, frozen=True):
    """One upstream attempt the gateway made for a request."""

    deployment: str
    provider: str
    error: str | None = None
    """``None`` when the attempt answered; otherwise the error class name and message."""
    status: int | None = None
    latency_ms: float = 0.0


class RouteDecision(msgspec.Struct, kw_only=True, frozen=True):
    """How the router ordered a request's candidates; ``x-switchyard-route`` shows it with the deployment that
    answered (``ResponseMeta.deployment``)."""

    strategy: str
    """The route's strategy, or ``direct`` for a model named by the client."""
    candidates: tuple[str, ...] = ()
    """Deployments in the order they were to be tried, after filters."""
    task: str | None = None
    """``classify``: the task class (``None``: none recognised, the route's default served)."""
    classifier: str | None = None
    """``classify``: which tier decided (``rules``, ``embedding``, ``none``); ``strong_weak``: ``strong``/``weak``."""
    confidence: float | None = None
    """``classify``: the classifier's confidence; ``strong_weak``: the score (probability strong is needed)."""
    arm: str | None = None
    """The experiment arm the request was assigned to."""
    affinity: bool = False
    """The first candidate was chosen by user/session affinity."""


class ResponseMeta(msgspec.Struct, kw_only=True):
    """What the gateway did to produce a response: who answered and what was tried first."""

    deployment: str
    provider: str
    route: str | None = None
    attempts: list[Attempt] = msgspec.field(default_factory=list)
    request_id: str | None = None
    cost_usd: float | None = None
    """Actual cost from the upstream usage; ``None`` when the price is unknown (or, for a stream, until it ends)."""
    estimated_cost_usd: float | None = None
    """The admission estimate (maximum cost) the budget reservation was made with."""
    tier: str | None = None
    """The budget tier that served the request, for tiered routes."""
    limit_headers: list[tuple[str, str]] = msgspec.field(default_factory=list)
    """``x-ratelimit-*`` values from admission."""
    routing: RouteDecision | None = None
    """Why these candidates, in this order: strategy, task class, experiment arm."""
    cache: Literal["hit", "semantic-hit", "miss", "skip"] | None = None
    """What the response cache did (``x-switchyard-cache``); ``None`` when caching is off. On a hit, ``deployment``
    names the deployment that made the cached answer and ``attempts`` is empty: nothing was sent upstream."""
    redacted: int | None = None
    """Mentions of personal data replaced by placeholders before the request left (``x-switchyard-redacted``);
    ``None`` when the request's redaction policy is off."""

    @property
    def fallback_used(self) -> bool:
        return len(self.attempts) > 1


class ChatResponse(msgspec.Struct, kw_only=True):
    id: str
    model: str
    choices: list[Choice]
    usage: Usage | None = None
    created: int = msgspec.field(default_factory=lambda: int(time.time()))
    system_fingerprint: str | None = None
    meta: ResponseMeta | None = None

    @property
    def message(self) -> Message:
        """The first choice's message: the answer, for the usual ``n == 1`` case."""
        return self.choices[0].message

    @property
    def text(self) -> str:
        return self.choices[0].message.text if self.choices else ""


class ToolCallDelta(msgspec.Struct, kw_only=True):
    """A piece of a streamed tool call; ``id`` and ``name`` arrive once, ``arguments`` in fragments."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class ChatChunk(msgspec.Struct, kw_only=True):
    """One streamed delta for one choice, or (with ``usage`` set and nothing else) the closing usage."""

    id: str
    model: str
    index: int = 0
    role: Role | None = None
    text: str | None = None
    tool_calls: list[ToolCallDelta] = msgspec.field(default_factory=list)
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    created: int = 0
