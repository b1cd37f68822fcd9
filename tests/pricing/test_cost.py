"""Actual cost from upstream usage, as each adapter reports it: cached tokens billed once, at the cached price."""

from __future__ import annotations

import pytest

from switchyard.pricing import Catalog, LongContextPrice, Price, cost_usd
from switchyard.providers import anthropic, gemini, openai
from switchyard.types import Usage

CATALOG = Catalog.bundled()


def price_of(provider_type: str, model: str) -> Price:
    info = CATALOG.lookup(provider_type, model)
    assert info is not None
    assert info.price is not None
    return info.price


def test_unknown_price_is_none_and_a_known_zero_is_zero() -> None:
    usage = Usage(input_tokens=1000, output_tokens=100)
    assert cost_usd(None, usage) is None
    assert cost_usd(Price(0.0, 0.0), usage) == 0.0


def test_openai_cached_tokens_are_a_subset_billed_at_the_cached_price() -> None:
    usage = openai.parse_usage(
        {"prompt_tokens": 10_000, "completion_tokens": 500, "prompt_tokens_details": {"cached_tokens": 8_000},
         "completion_tokens_details": {"reasoning_tokens": 300}}
    )
    assert usage is not None
    price = price_of("openai", "gpt-4o")
    expected = (2_000 * price.input_per_mtok + 8_000 * (price.cached_input_per_mtok or 0) + 500 * price.output_per_mtok)
    assert cost_usd(price, usage) == pytest.approx(expected / 1e6)
    # Reasoning tokens are inside completion_tokens: billed once, as output.
    uncached = Usage(input_tokens=10_000, output_tokens=500)
    expected = 10_000 * price.input_per_mtok + 500 * price.output_per_mtok
    assert cost_usd(price, uncached) == pytest.approx(expected / 1e6)


def test_anthropic_cache_reads_and_writes_are_billed_once_each() -> None:
    # Anthropic reports cache reads and writes apart from input_tokens; the adapter folds them in.
    usage = anthropic.parse_usage(
        {"input_tokens": 50, "cache_creation_input_tokens": 1_000, "cache_read_input_tokens": 20_000,
         "output_tokens": 400}
    )
    assert usage is not None
    assert usage.input_tokens == 21_050
    assert usage.cached_tokens == 20_000
    price = price_of("anthropic", "claude-sonnet-4-6")
    assert price.cached_input_per_mtok is not None
    assert price.cache_write_per_mtok is not None
    reads = 20_000 * price.cached_input_per_mtok
    output = 400 * price.output_per_mtok
    # Without the write count, writes are billed at the input price...
    assert cost_usd(price, usage) == pytest.approx((1_050 * price.input_per_mtok + reads + output) / 1e6)
    # ...with it, at the cache-write price.
    expected = 50 * price.input_per_mtok + 1_000 * price.cache_write_per_mtok + reads + output
    assert cost_usd(price, usage, cache_write_tokens=1_000) == pytest.approx(expected / 1e6)


def test_gemini_cached_content_is_part_of_the_prompt_count() -> None:
    usage = gemini.parse_usage(
        {"promptTokenCount": 12_000, "cachedContentTokenCount": 10_000, "candidatesTokenCount": 200,
         "thoughtsTokenCount": 800}
    )
    assert usage is not None
    price = price_of("gemini", "gemini-2.5-flash")
    assert price.cached_input_per_mtok is not None
    expected = 2_000 * price.input_per_mtok + 10_000 * price.cached_input_per_mtok + 1_000 * price.output_per_mtok
    assert cost_usd(price, usage) == pytest.approx(expected / 1e6)


def test_no_cache_discount_bills_cached_tokens_at_the_input_price() -> None:
    price = Price(1.0, 2.0)
    assert cost_usd(price, Usage(input_tokens=1_000, cached_tokens=600, output_tokens=10)) == pytest.approx(
        (1_000 * 1.0 + 10 * 2.0) / 1e6
    )


def test_a_long_prompt_bills_every_token_at_the_long_context_tier() -> None:
    price = price_of("gemini", "gemini-2.5-pro")
    tier = price.long_context
    assert isinstance(tier, LongContextPrice)
    at, over = Usage(input_tokens=tier.above_tokens, output_tokens=1_000), Usage(
        input_tokens=tier.above_tokens + 1, output_tokens=1_000)
    assert cost_usd(price, at) == pytest.approx(
        (tier.above_tokens * price.input_per_mtok + 1_000 * price.output_per_mtok) / 1e6)
    assert cost_usd(price, over) == pytest.approx(
        ((tier.above_tokens + 1) * tier.input_per_mtok + 1_000 * tier.output_per_mtok) / 1e6)


def test_cache_writes_in_the_long_tier_keep_anthropics_multiplier() -> None:
    price = price_of("anthropic", "claude-sonnet-4-5")
    tier = price.long_context
    assert tier is not None
    assert price.cache_write_per_mtok is not None
    usage = Usage(input_tokens=300_000, output_tokens=0)
    multiplier = price.cache_write_per_mtok / price.input_per_mtok
    expected = (200_000 * tier.input_per_mtok + 100_000 * tier.input_per_mtok * multiplier) / 1e6
    assert cost_usd(price, usage, cache_write_tokens=100_000) == pytest.approx(expected)


def test_inconsistent_usage_never_bills_negative_tokens() -> None:
    price = Price(1.0, 2.0, 0.1)
    cost = cost_usd(price, Usage(input_tokens=100, cached_tokens=500, output_tokens=0), cache_write_tokens=50)
    assert cost == pytest.approx(100 * 0.1 / 1e6)
