"""One deployment's :class:`ModelInfo`: the catalog's entry with the configuration's overrides on top."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .catalog import Catalog
from .info import UNKNOWN, Capabilities, ModelInfo, ModelKind, Price

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
        kind=model_config.mode or _kind(info, model_config.model),
    )


def _kind(info: ModelInfo, model: str) -> ModelKind:
    # A model's own entry knows; a section default ("local/*") or no entry knows nothing of the model, and embedding
    # models say so in their names (nomic-embed-text, mxbai-embed-large, text-embedding-3-small).
    if info.catalog_id is not None and not info.catalog_id.endswith("/*"):
        return info.kind
    return "embedding" if "embed" in model.lower() else "chat"
