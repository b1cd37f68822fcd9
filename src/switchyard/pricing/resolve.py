"""One deployment's :class:`ModelInfo`: the catalog's entry with the configuration's overrides on top."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .catalog import Catalog
from .info import UNKNOWN, Capabilities, ModelInfo, Price

if TYPE_CHECKING:
    from ..config import ModelConfig

__all__ = ["resolve"]

_CAPABILITIES = frozenset(Capabilities.__dataclass_fields__)


def resolve(model_config: ModelConfig, provider_type: str, catalog: Catalog | None = None) -> ModelInfo:
    """What the gateway knows about a configured deployment.

    The catalog entry is found by ``base_model`` when set (Azure deployment names), else by ``model``. The
    configuration wins field by field: ``pricing`` replaces the whole price (long-context tiers and cache-write
    prices included), ``context_window`` the window, and ``capabilities`` the flags it names. What neither knows
    stays ``None``; an unknown price is never $0.
    """
    catalog = catalog if catalog is not None else Catalog.bundled()
    info = catalog.lookup(provider_type, model_config.base_model or model_config.model) or UNKNOWN
    override = model_config.pricing
    price = info.price
    if override is not None:
        price = Price(override.input_per_mtok, override.output_per_mtok, override.cached_input_per_mtok)
    # Other keys in ``capabilities`` are provider-profile flags (n, seed, logprobs...) that the catalog does not hold.
    flags = {name: value for name, value in model_config.capabilities.items() if name in _CAPABILITIES}
    capabilities = replace(info.capabilities, **flags) if flags else info.capabilities
    return replace(
        info,
        price=price,
        context_window=model_config.context_window or info.context_window,
        capabilities=capabilities,
    )
