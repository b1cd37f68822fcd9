"""Model prices, windows and capabilities (the bundled catalog plus configuration overrides), the cost of a
request from its usage, and offline estimates of prompt tokens and of the most a request can cost."""

from .catalog import Catalog, Section
from .cost import cost_usd
from .info import UNKNOWN, Capabilities, LongContextPrice, ModelInfo, Price, Rates
from .resolve import resolve
from .tokens import (
    DEFAULT_MAX_OUTPUT_TOKENS,
    IMAGE_TOKENS,
    IMAGE_TOKENS_LOW,
    estimate_max_cost,
    estimate_prompt_tokens,
    estimate_text_tokens,
)

__all__ = [
    "DEFAULT_MAX_OUTPUT_TOKENS",
    "IMAGE_TOKENS",
    "IMAGE_TOKENS_LOW",
    "UNKNOWN",
    "Capabilities",
    "Catalog",
    "LongContextPrice",
    "ModelInfo",
    "Price",
    "Rates",
    "Section",
    "cost_usd",
    "estimate_max_cost",
    "estimate_prompt_tokens",
    "estimate_text_tokens",
    "resolve",
]
