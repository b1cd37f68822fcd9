"""Offline prompt-token estimates and the most a request can cost, before it is sent.

No tokenizer runs here: it would cost milliseconds and megabytes per provider, and Claude's is not public. Text is
estimated by a linear model over byte counts that CPython computes in C (bytes, spaces, newlines, digits,
punctuation, non-ASCII bytes), about 3 ns per byte. The coefficients were fitted against OpenAI's ``o200k_base``
tokenizer on half of a 34,562-text corpus (MMLU, GSM8K, MT-Bench, Quora questions) and measured on the other half:
``bench/tokens.py`` re-runs both, ``docs/cost.md`` has the method and the figures. Other providers' tokenizers
count the same text differently (Claude's and Gemini's usually higher); the estimate is OpenAI's count.

Around the text, OpenAI's chat accounting: every message costs 3 tokens plus its role (and name), every reply
3 more. Tool definitions follow OpenAI's published accounting for functions (a fixed cost per function and per
parameter, plus the text of names, types and descriptions). Images cannot be sized without decoding them, so they
get a typical fixed cost (below).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from ..types import ChatRequest, ImagePart, Message, TextPart, Tool
from .info import ModelInfo

__all__ = [
    "DEFAULT_MAX_OUTPUT_TOKENS",
    "IMAGE_TOKENS",
    "IMAGE_TOKENS_LOW",
    "estimate_max_cost",
    "estimate_prompt_tokens",
    "estimate_text_tokens",
]

# Fitted by `bench/tokens.py --fit` (least squares on relative error, tuning half of the corpus).
_PER_BYTE: Final = 0.0304
_PER_SPACE: Final = 0.8880
_PER_NEWLINE: Final = 2.0907
_PER_DIGIT: Final = 0.4725
_PER_PUNCT: Final = 0.6150
_PER_TEXT: Final = 1.2144
# Not fitted: the corpus is English. Set so that Japanese text (3 bytes a character, about one token per 1.5
# characters in o200k_base) comes out near its count; other scripts are probably over-estimated.
_PER_NON_ASCII_BYTE: Final = 0.25

_DIGITS: Final = b"0123456789"
_PUNCT: Final = b".,?!:;()\"'-$%/*=+[]{}<>_&#@|\\^`~"

_PER_MESSAGE: Final = 4
"""``<|start|>``, role, ``<|message|>``, ``<|end|>``."""
_PER_NAME: Final = 1
_PER_REPLY: Final = 3
_PER_TOOL_CALL: Final = 4
_FUNCTION: Final = 7
_FUNCTIONS_END: Final = 12
_PARAMETERS: Final = 3
_PARAMETER: Final = 3
_ENUM_ITEM: Final = 3
_ENUM: Final = -3
_RESPONSE_SCHEMA: Final = 10

IMAGE_TOKENS_LOW: Final = 85
"""OpenAI's cost of any image at ``detail: low``."""
IMAGE_TOKENS: Final = 765
"""A 1024x1024 image at OpenAI's high detail (85 + 4 tiles x 170). For scale: Anthropic charges about
width x height / 750 (at most ~1,600 for a 1.15-megapixel image), Gemini 258 per 768x768 tile."""

DEFAULT_MAX_OUTPUT_TOKENS: Final = 4096
"""Output assumed by :func:`estimate_max_cost` when neither the request nor the model sets a maximum."""


def estimate_text_tokens(text: str) -> int:
    """Tokens ``o200k_base`` would make of ``text``, estimated."""
    if not text:
        return 0
    data = text.encode()
    size = len(data)
    estimate = (
        _PER_TEXT
        + _PER_BYTE * size
        + _PER_SPACE * data.count(b" ")
        + _PER_NEWLINE * data.count(b"\n")
        + _PER_DIGIT * (size - len(data.translate(None, _DIGITS)))
        + _PER_PUNCT * (size - len(data.translate(None, _PUNCT)))
        + _PER_NON_ASCII_BYTE * (size - len(text))
    )
    return max(1, round(estimate))


def _json_tokens(value: Any) -> int:
    return estimate_text_tokens(orjson.dumps(value).decode())


def _parameter_tokens(name: str, schema: Any) -> int:
    if not isinstance(schema, dict):
        return _PARAMETER + estimate_text_tokens(name)
    kind = schema.get("type", "")
    line = f"{name}:{kind if isinstance(kind, str) else '|'.join(map(str, kind))}:{schema.get('description') or ''}"
    tokens = _PARAMETER + estimate_text_tokens(line.rstrip("."))
    enum = schema.get("enum")
    if isinstance(enum, list):
        tokens += _ENUM + sum(_ENUM_ITEM + estimate_text_tokens(str(item)) for item in enum)
    for nested in ("properties", "items", "anyOf", "oneOf"):
        # OpenAI's published accounting stops at the first level; deeper schemas are counted as their JSON text.
        if nested in schema:
            tokens += _json_tokens(schema[nested])
    return tokens


def _tool_tokens(tools: list[Tool]) -> int:
    total = _FUNCTIONS_END
    for tool in tools:
        total += _FUNCTION + estimate_text_tokens(f"{tool.name}:{(tool.description or '').rstrip('.')}")
        properties = tool.parameters.get("properties")
        if isinstance(properties, dict) and properties:
            total += _PARAMETERS + sum(_parameter_tokens(str(k), v) for k, v in properties.items())
    return total


def _message_tokens(message: Message) -> int:
    total = _PER_MESSAGE
    for part in message.content:
        if isinstance(part, TextPart):
            total += estimate_text_tokens(part.text)
        elif isinstance(part, ImagePart):
            total += IMAGE_TOKENS_LOW if part.detail == "low" else IMAGE_TOKENS
    for call in message.tool_calls:
        total += _PER_TOOL_CALL + estimate_text_tokens(call.name) + estimate_text_tokens(call.arguments)
    if message.name:
        total += _PER_NAME + estimate_text_tokens(message.name)
    if message.tool_call_id:
        total += estimate_text_tokens(message.tool_call_id)
    return total


def estimate_prompt_tokens(request: ChatRequest) -> int:
    """The prompt tokens ``request`` will be billed for, estimated offline (OpenAI's accounting, ``o200k_base``).

    Measured on held-out English text against the real tokenizer: see ``docs/cost.md``. Images count a typical
    fixed cost (:data:`IMAGE_TOKENS`), tools OpenAI's per-function accounting.
    """
    total = _PER_REPLY + sum(_message_tokens(message) for message in request.messages)
    if request.tools:
        total += _tool_tokens(request.tools)
    response_format = request.response_format
    if response_format is not None and response_format.schema:
        total += _RESPONSE_SCHEMA + _json_tokens(response_format.schema)
    return total


def estimate_max_cost(
    info: ModelInfo, request: ChatRequest, default_max_output: int = DEFAULT_MAX_OUTPUT_TOKENS
) -> float | None:
    """The most ``request`` can cost on the model ``info`` describes, in USD; ``None`` when the price is unknown.

    Estimated prompt tokens at the input price (no cache discount assumed) plus the most output the request can
    produce at the output price: ``max_tokens`` (capped by the model's maximum), else the model's maximum output,
    else ``default_max_output``; times ``n`` choices. A prompt past a long-context threshold is priced at that tier.
    """
    price = info.price
    if price is None:
        return None
    prompt = estimate_prompt_tokens(request)
    ceiling = info.max_output_tokens
    if request.max_tokens is not None:
        output = min(request.max_tokens, ceiling) if ceiling else request.max_tokens
    else:
        output = ceiling or default_max_output
    output *= max(request.n or 1, 1)
    rates = price.rates(prompt)
    return (prompt * rates.input_per_mtok + output * rates.output_per_mtok) / 1_000_000
