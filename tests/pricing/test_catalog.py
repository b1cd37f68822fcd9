"""The bundled catalog: complete, sane entries with sources; forgiving look-ups; unknown is None, never $0."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from switchyard import ConfigError
from switchyard.pricing import Capabilities, Catalog, ModelInfo, Price

CATALOG = Catalog.bundled()
ENTRIES = list(CATALOG.entries())
PROVIDER_TYPES = ["openai", "azure", "anthropic", "gemini", "groq", "xai", "mistral", "deepseek", "together"]


def test_every_supported_vendor_has_a_section_with_sources_and_a_date() -> None:
    assert set(CATALOG.sections) >= {"openai", "anthropic", "gemini", "groq", "xai", "mistral", "deepseek",
                                      "together", "local"}
    for section in CATALOG.sections.values():
        assert section.sources, section.name
        assert all(re.match(r"^(https://|self-hosted$)", source) for source in section.sources), section.name
        assert date.fromisoformat(section.as_of) <= date.today()
        assert section.models or section.default is not None


@pytest.mark.parametrize(("section", "model_id", "info"), ENTRIES, ids=[f"{s.name}/{m}" for s, m, _ in ENTRIES])
def test_every_entry_is_complete_and_sane(section: object, model_id: str, info: ModelInfo) -> None:
    assert info.context_window is not None
    assert info.context_window > 0
    if info.max_output_tokens is not None:
        assert 0 < info.max_output_tokens <= info.context_window
    if info.kind == "embedding":
        assert info.price is None or info.price.output_per_mtok == 0
        return
    assert info.price is not None, "chat models need a price"
    price = info.price
    assert 0 < price.input_per_mtok <= price.output_per_mtok
    if price.cached_input_per_mtok is not None:
        assert 0 < price.cached_input_per_mtok < price.input_per_mtok
    if price.cache_write_per_mtok is not None:
        assert price.cache_write_per_mtok > price.input_per_mtok
    if price.long_context is not None:
        tier = price.long_context
        assert tier.above_tokens <= info.context_window  # Sonnet 4.x: the tier needs the 1M beta window
        assert tier.input_per_mtok > price.input_per_mtok
        assert tier.output_per_mtok >= price.output_per_mtok
    flags = info.capabilities
    assert None not in (flags.tools, flags.vision, flags.json_schema, flags.streaming, flags.reasoning)
    assert flags.streaming


def test_the_models_the_gateway_is_configured_with_most_are_present() -> None:
    for provider_type, model in [
        ("openai", "gpt-5"), ("openai", "gpt-5-mini"), ("openai", "gpt-5-nano"), ("openai", "gpt-4.1"),
        ("openai", "gpt-4.1-mini"), ("openai", "gpt-4.1-nano"), ("openai", "gpt-4o"), ("openai", "gpt-4o-mini"),
        ("openai", "o3"), ("openai", "o4-mini"), ("openai", "o3-mini"), ("openai", "text-embedding-3-small"),
        ("openai", "text-embedding-3-large"), ("anthropic", "claude-sonnet-4-6"), ("anthropic", "claude-haiku-4-5"),
        ("anthropic", "claude-opus-4-1"), ("anthropic", "claude-3-7-sonnet-latest"),
        ("anthropic", "claude-3-5-sonnet-20241022"), ("gemini", "gemini-2.5-pro"), ("gemini", "gemini-2.5-flash"),
        ("gemini", "gemini-2.5-flash-lite"), ("gemini", "gemini-2.0-flash"), ("gemini", "gemini-2.0-flash-lite"),
        ("gemini", "gemini-embedding-001"), ("groq", "llama-3.3-70b-versatile"), ("groq", "llama-3.1-8b-instant"),
        ("groq", "openai/gpt-oss-120b"), ("groq", "openai/gpt-oss-20b"), ("xai", "grok-4"), ("xai", "grok-3"),
        ("xai", "grok-3-mini"), ("mistral", "mistral-large-latest"), ("deepseek", "deepseek-chat"),
        ("deepseek", "deepseek-reasoner"), ("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
    ]:
        info = CATALOG.lookup(provider_type, model)
        assert info is not None, (provider_type, model)
        assert info.price is not None, (provider_type, model)


@pytest.mark.parametrize(
    ("provider_type", "spelling", "entry"),
    [
        ("openai", "gpt-4o-2024-08-06", "openai/gpt-4o"),
        ("openai", "gpt-4o-mini-2024-07-18", "openai/gpt-4o-mini"),
        ("openai", "o1-2024-12-17", "openai/o1"),
        ("openai", "GPT-4o", "openai/gpt-4o"),
        ("openai", "openai/gpt-4.1-mini", "openai/gpt-4.1-mini"),
        ("azure", "gpt-4o", "openai/gpt-4o"),
        ("anthropic", "claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4-5"),
        ("anthropic", "claude-haiku-4-5-20251001", "anthropic/claude-haiku-4-5"),
        ("anthropic", "claude-3-5-haiku-latest", "anthropic/claude-3-5-haiku"),
        ("anthropic", "claude-opus-4-0", "anthropic/claude-opus-4"),
        ("anthropic", "claude-haiku-4-5@20251001", "anthropic/claude-haiku-4-5"),
        ("anthropic", "claude-sonnet-4.5", "anthropic/claude-sonnet-4-5"),
        ("gemini", "models/gemini-2.5-flash", "gemini/gemini-2.5-flash"),
        ("gemini", "gemini-2.0-flash-001", "gemini/gemini-2.0-flash"),
        ("gemini", "gemini/gemini-2.5-pro", "gemini/gemini-2.5-pro"),
        ("xai", "grok-4-latest", "xai/grok-4-0709"),
        ("mistral", "mistral-small-latest", "mistral/mistral-small-2506"),
        ("together", "META-LLAMA/llama-3.3-70b-instruct-turbo", "together/meta-llama/Llama-3.3-70B-Instruct-Turbo"),
        ("groq", "groq/llama-3.1-8b-instant", "groq/llama-3.1-8b-instant"),
        ("openrouter", "openai/gpt-4o", "openai/gpt-4o"),
        ("openrouter", "anthropic/claude-3.7-sonnet", "anthropic/claude-3-7-sonnet"),
        ("openrouter", "google/gemini-2.5-flash", "gemini/gemini-2.5-flash"),
        ("openrouter", "x-ai/grok-4", "xai/grok-4-0709"),
        ("openrouter", "deepseek/deepseek-chat", "deepseek/deepseek-chat"),
    ],
)
def test_spellings_resolve_to_their_entry(provider_type: str, spelling: str, entry: str) -> None:
    info = CATALOG.lookup(provider_type, spelling)
    assert info is not None
    assert info.catalog_id == entry


def test_a_snapshot_with_its_own_price_is_not_folded_into_the_family() -> None:
    snapshot, family = CATALOG.lookup("openai", "gpt-4o-2024-05-13"), CATALOG.lookup("openai", "gpt-4o")
    assert snapshot is not None
    assert family is not None
    assert snapshot.catalog_id == "openai/gpt-4o-2024-05-13"
    assert snapshot.price != family.price


@pytest.mark.parametrize(
    ("provider_type", "model"),
    [
        ("openai", "gpt-4o-prod"),  # an Azure-style deployment name without base_model
        ("azure", "my-deployment"),
        ("openai", "ft:gpt-4o-mini-2024-07-18:acme::abc123"),  # fine-tuned models cost more
        ("openai", "claude-sonnet-4-6"),  # sections do not leak into each other
        ("anthropic", "gpt-4o"),
        ("mistral", "mistral-medium-latest"),  # the alias moved between differently priced models
        ("mistral", "mistral-large-2411"),  # an older version is not priced as the newest
        ("openai_compatible", "gpt-4o"),  # could be any vendor
        ("openrouter", "meta-llama/llama-3.3-70b-instruct"),  # open models: the price depends on the host
        ("bedrock", "claude-sonnet-4-5"),  # a provider type the catalog does not cover
    ],
)
def test_unknown_models_are_none(provider_type: str, model: str) -> None:
    assert CATALOG.lookup(provider_type, model) is None


def test_openrouter_variants_free_is_a_known_zero_others_unknown() -> None:
    free = CATALOG.lookup("openrouter", "openai/gpt-4o:free")
    nitro = CATALOG.lookup("openrouter", "openai/gpt-4o:nitro")
    assert free is not None
    assert free.price == Price(0.0, 0.0)
    assert nitro is not None
    assert nitro.price is None
    assert nitro.context_window == free.context_window == 128000


@pytest.mark.parametrize("provider_type", ["ollama", "vllm"])
def test_local_models_are_a_known_zero_with_unknown_limits(provider_type: str) -> None:
    info = CATALOG.lookup(provider_type, "llama3.2:3b")
    assert info is not None
    assert info.price is not None
    assert info.price.input_per_mtok == info.price.output_per_mtok == 0
    assert info.context_window is None
    assert info.capabilities == Capabilities()


def test_unknown_capability_flags_are_none_not_false() -> None:
    assert Capabilities().tools is None
    known = CATALOG.lookup("openai", "o3-mini")
    assert known is not None
    assert known.capabilities.vision is False
    assert known.capabilities.reasoning is True


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"input": 1.0}, "needs input and output prices"),
        ({"price": "unknown", "input": 1.0, "output": 2.0}, "cannot give input/output"),
        ({"input": -1.0, "output": 2.0}, "invalid catalog"),
        ({"input": 1.0, "output": 2.0, "capabilities": ["telepathy"]}, "invalid catalog"),
        ({"input": 1.0, "output": 2.0, "context_window": 0}, "invalid catalog"),
    ],
)
def test_a_malformed_catalog_is_a_config_error(entry: dict[str, object], message: str) -> None:
    data = {"providers": {"acme": {"source": ["https://acme.test"], "as_of": "2026-01-01", "models": {"m": entry}}}}
    with pytest.raises(ConfigError, match=message):
        Catalog.from_mapping(data)


def test_aliases_must_name_an_entry() -> None:
    data = {"providers": {"acme": {"source": ["x"], "as_of": "2026-01-01", "models": {}, "aliases": {"a": "b"}}}}
    with pytest.raises(ConfigError, match="alias of unknown model 'b'"):
        Catalog.from_mapping(data)


def test_a_catalog_file_can_be_loaded(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(
        "providers:\n  openai:\n    source: [https://example.test]\n    as_of: '2026-01-01'\n"
        "    models:\n      house-model: {input: 1, output: 2, context_window: 1000, capabilities: [tools]}\n"
    )
    info = Catalog.from_file(path).lookup("openai", "house-model-2026-01-01")
    assert info is not None
    assert info.price == Price(1.0, 2.0)
    assert info.capabilities.tools is True
    assert info.capabilities.vision is False
