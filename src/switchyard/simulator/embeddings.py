"""Simulated embeddings: deterministic vectors and the OpenAI and Gemini embeddings wire formats.

A text's vector is a pure function of the text and the dimension count (a SHAKE-256 stream of the text, centred and
scaled to unit length), so the same text embeds the same way on every simulated provider and every run, and
different texts almost never collide. Usage is the simulator's usual four-characters-a-token estimate.

The requests are checked where the real services check them: an empty input, ``dimensions`` on a model that has
fixed dimensions, more inputs than a batch takes, a Gemini batch entry naming another model.
"""

from __future__ import annotations

import array
import base64
import hashlib
import math
import sys
from dataclasses import dataclass, field
from typing import Any, Final

from .reply import estimate_tokens

__all__ = [
    "EmbedJob",
    "default_dimensions",
    "parse_gemini_batch",
    "parse_openai_embeddings",
    "render_gemini_batch",
    "render_openai_embeddings",
    "vector",
]

_DIMENSIONS: Final = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "gemini-embedding-001": 3072,
    "text-embedding-004": 768,
    "embedding-001": 768,
}
DEFAULT_DIMENSIONS: Final = 768
"""Any other model (Ollama's ``nomic-embed-text`` has 768)."""
OPENAI_MAX_INPUTS: Final = 2048
GEMINI_MAX_BATCH: Final = 100
"""``batchEmbedContents`` takes at most 100 requests."""


def default_dimensions(model: str) -> int:
    return _DIMENSIONS.get(model.removeprefix("models/"), DEFAULT_DIMENSIONS)


def _shortenable(model: str) -> bool:
    # Only the text-embedding-3 family (and Gemini's models, via outputDimensionality) take a dimension count.
    return not model.startswith("text-embedding-ada")


def vector(text: str, dimensions: int) -> list[float]:
    """A unit vector of ``dimensions`` floats, fixed by ``text``."""
    values = [b - 127.5 for b in hashlib.shake_256(text.encode()).digest(dimensions)]
    scale = 1 / math.hypot(*values)
    # Through float32, as the providers' vectors are: the float and base64 encodings of one vector then agree.
    return array.array("f", [v * scale for v in values]).tolist()


@dataclass(slots=True)
class EmbedJob:
    """What one embeddings request asks for, whatever its wire format."""

    texts: list[str]
    """Each input's text (a token array is embedded by its ids' text)."""
    tokens: int
    dimensions: int
    base64: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def longest(self) -> int:
        return max((estimate_tokens(t) for t in self.texts), default=0)


def parse_openai_embeddings(data: Any, model: str) -> EmbedJob:
    """An OpenAI ``/v1/embeddings`` body; ``ValueError`` with OpenAI's kind of message when it is not valid."""
    if not isinstance(data, dict):
        raise ValueError("request body must be a JSON object")
    raw = data.get("input")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise ValueError("'input' is a required property and must be a non-empty string or array")
    if len(raw) > OPENAI_MAX_INPUTS:
        raise ValueError(f"'$.input' is invalid: at most {OPENAI_MAX_INPUTS} inputs")
    texts: list[str] = []
    tokens = 0
    if all(isinstance(item, int) for item in raw):
        raw = [raw]
    for i, item in enumerate(raw):
        if isinstance(item, str) and item:
            texts.append(item)
            tokens += estimate_tokens(item)
        elif isinstance(item, list) and item and all(isinstance(t, int) for t in item):
            texts.append(" ".join(map(str, item)))
            tokens += len(item)
        else:
            raise ValueError(f"'$.input[{i}]' is invalid: expected a non-empty string or array of integers")
    dimensions = data.get("dimensions")
    if dimensions is not None:
        if not _shortenable(model):
            raise ValueError("This model does not support specifying dimensions.")
        if not isinstance(dimensions, int) or not 1 <= dimensions <= default_dimensions(model):
            raise ValueError(f"dimensions must be between 1 and {default_dimensions(model)}")
    encoding = data.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise ValueError(f"'{encoding}' is not one of ['float', 'base64'] - 'encoding_format'")
    return EmbedJob(texts, tokens, dimensions or default_dimensions(model), encoding == "base64")


def render_openai_embeddings(job: EmbedJob, model: str) -> dict[str, Any]:
    data = []
    for i, text in enumerate(job.texts):
        values = vector(text, job.dimensions)
        embedding: list[float] | str = values
        if job.base64:
            packed = array.array("f", values)
            if sys.byteorder == "big":
                packed.byteswap()
            embedding = base64.b64encode(packed.tobytes()).decode("ascii")
        data.append({"object": "embedding", "index": i, "embedding": embedding})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": job.tokens, "total_tokens": job.tokens},
    }


_GEMINI_ENTRY_FIELDS: Final = frozenset({"model", "content", "taskType", "title", "outputDimensionality"})


def parse_gemini_batch(data: Any, model: str) -> EmbedJob:
    """A Gemini ``batchEmbedContents`` body, as the google-genai SDK sends it."""
    requests = data.get("requests") if isinstance(data, dict) else None
    if not isinstance(requests, list) or not requests:
        raise ValueError("* BatchEmbedContentsRequest.requests: at least one request is required")
    if len(requests) > GEMINI_MAX_BATCH:
        raise ValueError(f"* BatchEmbedContentsRequest.requests: at most {GEMINI_MAX_BATCH} requests can be in one "
                         "batch")
    texts: list[str] = []
    dimensions: int | None = None
    for i, entry in enumerate(requests):
        if not isinstance(entry, dict):
            raise ValueError(f"requests[{i}] must be an object")
        for name in entry:
            if name not in _GEMINI_ENTRY_FIELDS:
                raise ValueError(f'Invalid JSON payload received. Unknown name "{name}" at \'requests[{i}]\': '
                                 "Cannot find field.")
        if entry.get("model") != f"models/{model}":
            raise ValueError(f"requests[{i}].model: model '{entry.get('model')}' does not match the model in the "
                             f"URL 'models/{model}'")
        parts = (entry.get("content") or {}).get("parts")
        if not isinstance(parts, list) or not parts:
            raise ValueError(f"requests[{i}].content: contents must not be empty")
        text = "".join(p.get("text") or "" for p in parts if isinstance(p, dict))
        if not text:
            raise ValueError(f"requests[{i}].content: text must not be empty")
        texts.append(text)
        wanted = entry.get("outputDimensionality")
        if wanted is not None:
            if not isinstance(wanted, int) or not 1 <= wanted <= default_dimensions(model):
                raise ValueError(f"requests[{i}].outputDimensionality must be between 1 and "
                                 f"{default_dimensions(model)}")
            dimensions = wanted
    tokens = sum(estimate_tokens(t) for t in texts)
    return EmbedJob(texts, tokens, dimensions or default_dimensions(model))


def render_gemini_batch(job: EmbedJob, model: str) -> dict[str, Any]:
    # The Gemini API reports no token usage for embeddings.
    return {"embeddings": [{"values": vector(text, job.dimensions)} for text in job.texts]}
