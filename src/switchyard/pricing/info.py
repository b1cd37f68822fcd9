"""What the gateway knows about one model: its price, its limits and what it can do.

``None`` means *unknown* throughout: an unknown price is never treated as $0, an unknown window filters nothing
out, an unknown capability is neither promised nor ruled out. A known zero (a model the user runs locally) is a
:class:`Price` of zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["UNKNOWN", "Capabilities", "LongContextPrice", "ModelInfo", "ModelKind", "Price", "Rates"]

ModelKind = Literal["chat", "embedding"]


@dataclass(frozen=True, slots=True)
class Rates:
    """The three per-token rates that apply to one request, USD per 1M tokens."""

    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float
    """Already resolved: the input rate when the provider gives no cache discount."""


@dataclass(frozen=True, slots=True)
class LongContextPrice:
    """A higher tier billed on every token of a request whose prompt exceeds ``above_tokens``."""

    above_tokens: int
    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1M tokens."""

    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None
    """Prompt tokens served from the provider's cache; ``None``: no discount, billed at ``input_per_mtok``."""
    cache_write_per_mtok: float | None = None
    """Anthropic: tokens written to the (5-minute) prompt cache; ``None``: billed at ``input_per_mtok``."""
    long_context: LongContextPrice | None = None

    def rates(self, prompt_tokens: int) -> Rates:
        """The rates for a request with this many prompt tokens (cached ones included)."""
        tier = self.long_context
        if tier is not None and prompt_tokens > tier.above_tokens:
            cached = tier.cached_input_per_mtok
            return Rates(tier.input_per_mtok, tier.output_per_mtok, tier.input_per_mtok if cached is None else cached)
        cached = self.cached_input_per_mtok
        return Rates(self.input_per_mtok, self.output_per_mtok, self.input_per_mtok if cached is None else cached)

    def cache_write_rate(self, prompt_tokens: int) -> float:
        """Anthropic bills cache writes at 1.25x the base input rate of the tier the request falls in."""
        base = self.rates(prompt_tokens).input_per_mtok
        if self.cache_write_per_mtok is None:
            return base
        return self.cache_write_per_mtok * base / self.input_per_mtok if self.input_per_mtok else base


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the model can do; ``None``: not known."""

    tools: bool | None = None
    vision: bool | None = None
    json_schema: bool | None = None
    """Structured outputs: the answer is constrained to a JSON schema."""
    streaming: bool | None = None
    reasoning: bool | None = None
    """The model thinks before answering (billed as output tokens)."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    price: Price | None
    context_window: int | None
    """Tokens of prompt plus answer."""
    max_output_tokens: int | None
    capabilities: Capabilities = field(default_factory=Capabilities)
    kind: ModelKind = "chat"
    catalog_id: str | None = None
    """``section/model`` of the catalog entry that matched (``anthropic/claude-sonnet-4-5``), for diagnostics;
    ``None`` when nothing matched."""


UNKNOWN = ModelInfo(price=None, context_window=None, max_output_tokens=None)
"""A model the catalog does not know."""
