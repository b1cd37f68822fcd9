"""The actual cost of a request, from the usage the provider reported."""

from __future__ import annotations

from ..types import Usage
from .info import Price

__all__ = ["cost_usd"]


def cost_usd(price: Price | None, usage: Usage, *, cache_write_tokens: int = 0) -> float | None:
    """USD for one request; ``None`` when the price is unknown.

    ``usage.input_tokens`` counts every prompt token, cached ones included (every adapter normalises to that), and
    ``usage.cached_tokens`` is the cached subset: cached tokens are billed once, at the cached rate. Reasoning
    tokens are part of ``output_tokens`` and billed as output. ``cache_write_tokens`` (Anthropic's
    ``cache_creation_input_tokens``, also inside ``input_tokens``) moves that many tokens from the input rate to
    the cache-write rate.
    """
    if price is None:
        return None
    rates = price.rates(usage.input_tokens)
    cached = min(max(usage.cached_tokens, 0), usage.input_tokens)
    written = min(max(cache_write_tokens, 0), usage.input_tokens - cached)
    fresh = usage.input_tokens - cached - written
    total = (
        fresh * rates.input_per_mtok
        + cached * rates.cached_input_per_mtok
        + usage.output_tokens * rates.output_per_mtok
    )
    if written:
        total += written * price.cache_write_rate(usage.input_tokens)
    return total / 1_000_000
