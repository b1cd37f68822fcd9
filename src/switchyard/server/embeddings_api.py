"""``POST /v1/embeddings``: OpenAI's embeddings wire format ⇄ canonical :class:`EmbeddingRequest`, over
:meth:`Gateway.embed`.

``input`` is a string, an array of strings, an array of token ids or an array of token arrays, as OpenAI takes it.
Vectors are answered as the client asked: JSON floats, or ``encoding_format: base64`` (little-endian float32, what
the official SDKs ask for by default and decode themselves). Top-level fields we do not model travel in
``EmbeddingRequest.extra`` to the upstream, as for chat.
"""

from __future__ import annotations

import array
import base64
import sys
from typing import TYPE_CHECKING, Any, Literal

import msgspec
import orjson

from ..embedding_types import EmbeddingRequest, EmbeddingResponse, EncodingFormat
from ..embeddings import check_embedding_request
from ..errors import InvalidRequestError
from .http import Call, answer_headers, convert_body, json_object

if TYPE_CHECKING:
    from .app import GatewayApp

__all__ = ["create_embeddings", "encode_vector", "parse_embedding_request", "render_embeddings"]


class _Body(msgspec.Struct, kw_only=True):
    model: str
    input: Any
    dimensions: int | None = None
    encoding_format: Literal["float", "base64"] | None = None
    user: str | None = None


_KNOWN_FIELDS = frozenset(_Body.__struct_fields__)
_INPUT_SHAPES = "a string, an array of strings, an array of token ids or an array of token arrays"


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _inputs(raw: Any) -> tuple[list[str], list[list[int]]]:
    if isinstance(raw, str):
        return [raw], []
    if not isinstance(raw, list) or not raw:
        raise InvalidRequestError(f"input must be {_INPUT_SHAPES}, and not empty", param="input")
    if all(isinstance(item, str) for item in raw):
        return raw, []
    if all(_is_token(item) for item in raw):
        return [], [raw]
    if all(isinstance(item, list) and all(_is_token(t) for t in item) for item in raw):
        return [], raw
    raise InvalidRequestError(f"input must be {_INPUT_SHAPES} (non-negative integers), not a mix", param="input")


def parse_embedding_request(body: bytes) -> EmbeddingRequest:
    """Parse and validate an OpenAI ``/v1/embeddings`` body; raises ``InvalidRequestError``."""
    data = json_object(body)
    raw = convert_body(data, _Body)
    texts, tokens = _inputs(raw.input)
    request = EmbeddingRequest(
        model=raw.model,
        input=texts,
        tokens=tokens,
        dimensions=raw.dimensions,
        encoding_format=raw.encoding_format or "float",
        user=raw.user,
        extra={k: v for k, v in data.items() if k not in _KNOWN_FIELDS},
    )
    check_embedding_request(request)
    return request


def encode_vector(vector: list[float], encoding: EncodingFormat) -> list[float] | str:
    """A vector as OpenAI answers it: floats, or base64 of little-endian float32 (what the SDKs decode)."""
    if encoding == "float":
        return vector
    packed = array.array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def render_embeddings(response: EmbeddingResponse, model: str, encoding: EncodingFormat) -> bytes:
    """``model`` is the name the client asked for, as for chat; the upstream model is in the headers."""
    tokens = response.usage.input_tokens if response.usage is not None else 0
    usage: dict[str, Any] = {"prompt_tokens": tokens, "total_tokens": tokens}
    # The extension field chat answers carry too (``usage.model_extra`` in openai-python); unknown stays null.
    usage["cost_usd"] = response.meta.cost_usd if response.meta is not None else None
    return orjson.dumps({
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": encode_vector(vector, encoding)}
            for i, vector in enumerate(response.vectors)
        ],
        "model": model,
        "usage": usage,
    })


async def create_embeddings(app: GatewayApp, call: Call) -> None:
    request, principal, request_id, _ = await app.prepare(call, parse_embedding_request)
    response = await app.gateway.embed(request, principal=principal, request_id=request_id)
    headers = answer_headers(response.meta, response.model)
    if response.usage_estimated:
        # Gemini reports no usage for embeddings: the tokens (and so the cost) are the gateway's estimate.
        headers.append((b"x-switchyard-usage-estimated", b"true"))
    await call.respond(200, render_embeddings(response, request.model, request.encoding_format), headers)
