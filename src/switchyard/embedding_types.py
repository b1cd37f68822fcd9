"""Canonical, provider-neutral embedding types.

Every embeddings ingress parses into :class:`EmbeddingRequest` and every adapter answers with an
:class:`EmbeddingResponse`, so OpenAI's ``/v1/embeddings`` (and Azure's, Ollama's, vLLM's) and Gemini's
``batchEmbedContents`` go through one model. Vectors are plain floats here; how the client wants them encoded
(``float`` or ``base64`` float32) is the ingress's business, and what the upstream was asked for is the adapter's.

This module imports nothing of ours but the chat types it shares usage and response metadata with.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from .types import ResponseMeta, Usage

__all__ = ["EmbeddingRequest", "EmbeddingResponse", "EncodingFormat"]

EncodingFormat = Literal["float", "base64"]


class EmbeddingRequest(msgspec.Struct, kw_only=True):
    """Embed each input, in order. Exactly one of ``input`` (texts) and ``tokens`` (pre-tokenized inputs, OpenAI's
    token arrays) is non-empty."""

    model: str
    input: list[str] = msgspec.field(default_factory=list)
    tokens: list[list[int]] = msgspec.field(default_factory=list)
    dimensions: int | None = None
    """Shorten the vectors to this many dimensions (OpenAI ``dimensions``, Gemini ``outputDimensionality``)."""
    encoding_format: EncodingFormat = "float"
    """How the client wants the vectors; passed on to upstreams that take it (OpenAI's wire format)."""
    user: str | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)
    """Fields we do not model, sent verbatim: into the body (OpenAI), into each request of the batch (Gemini's
    ``taskType``, ``title``)."""
    tags: list[str] = msgspec.field(default_factory=list)
    """Routing tags, as for chat requests. Not sent."""
    session: str | None = None
    """Conversation id for routes with session affinity. Not sent."""

    @property
    def count(self) -> int:
        """How many vectors the answer holds."""
        return len(self.input) or len(self.tokens)


class EmbeddingResponse(msgspec.Struct, kw_only=True):
    model: str
    """The upstream model that made the vectors."""
    vectors: list[list[float]]
    """One per input, in the request's order."""
    usage: Usage | None = None
    """Input tokens (``output_tokens`` is 0: embeddings bill input only)."""
    usage_estimated: bool = False
    """The provider reports no usage (Gemini): ``usage`` is the gateway's offline estimate."""
    meta: ResponseMeta | None = None
