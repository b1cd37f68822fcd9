"""Catalog plus configuration: the configuration wins; what neither knows stays unknown."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard import ConfigError, parse_config
from switchyard.pricing import Catalog, Price, resolve


def deployment(provider_type: str = "openai", **model: Any) -> tuple[Any, str]:
    config = parse_config(
        {
            "providers": {"p": {"type": provider_type, "api_key": "k", "base_url": "http://127.0.0.1:9/v1"}},
            "models": {"m": {"provider": "p", **model}},
        }
    )
    return config.models["m"], provider_type


def test_the_catalog_entry_when_nothing_is_overridden() -> None:
    info = resolve(*deployment(model="gpt-4o-mini"))
    assert info == Catalog.bundled().lookup("openai", "gpt-4o-mini")


def test_a_price_override_replaces_the_whole_price() -> None:
    info = resolve(*deployment(model="claude-sonnet-4-5", pricing={"input_per_mtok": 2.0, "output_per_mtok": 9.0},
                               provider_type="anthropic"))
    assert info.price == Price(2.0, 9.0, None)
    # The rest of the catalog entry stays.
    assert info.context_window == 200000
    assert info.capabilities.tools is True


def test_an_unknown_model_is_priced_only_by_its_override() -> None:
    unknown = resolve(*deployment(model="house-llm"))
    assert unknown.price is None
    assert unknown.context_window is None
    assert unknown.catalog_id is None
    priced = resolve(*deployment(model="house-llm", pricing={"input_per_mtok": 0.5, "output_per_mtok": 1.5,
                                                             "cached_input_per_mtok": 0.05}))
    assert priced.price == Price(0.5, 1.5, 0.05)
    assert priced.context_window is None


def test_azure_deployments_resolve_through_base_model() -> None:
    without = resolve(*deployment("azure", model="gpt-4o-prod"))
    with_base = resolve(*deployment("azure", model="gpt-4o-prod", base_model="gpt-4o-2024-11-20"))
    assert without.price is None
    assert with_base.catalog_id == "openai/gpt-4o"
    assert with_base.price is not None


def test_context_window_and_capabilities_overrides_win() -> None:
    info = resolve(*deployment(model="gpt-4o", context_window=64000, capabilities={"vision": False, "n": False}))
    assert info.context_window == 64000
    assert info.capabilities.vision is False
    assert info.capabilities.tools is True  # flags the configuration does not name keep the catalog's value


def test_a_local_model_stays_a_known_zero() -> None:
    info = resolve(*deployment("ollama", model="llama3.2"))
    assert info.price == Price(0.0, 0.0)


@pytest.mark.parametrize(
    "pricing",
    [{"input_per_mtok": -1, "output_per_mtok": 1}, {"input_per_mtok": 1}, {"input_per_mtok": 1, "output_per_mtok": 2,
                                                                            "currency": "EUR"}],
)
def test_invalid_price_overrides_are_config_errors_naming_the_key(pricing: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"models\.m"):
        deployment(model="gpt-4o", pricing=pricing)
