"""Prices per deployment, resolved once at start-up from the bundled catalog and the configuration."""

from __future__ import annotations

from collections.abc import Mapping

from ..config import Config
from ..pricing import ModelInfo, cost_usd, estimate_prompt_tokens, resolve
from ..types import ChatRequest, Usage

__all__ = ["CatalogPricer"]


class CatalogPricer:
    """The :class:`~switchyard.governance.governor.Pricer` the gateway uses."""

    def __init__(self, config: Config) -> None:
        self.info: Mapping[str, ModelInfo] = {
            name: resolve(model, config.providers[model.provider].type) for name, model in config.models.items()
        }

    def prompt_tokens(self, request: ChatRequest) -> int:
        return estimate_prompt_tokens(request)

    def max_output(self, deployment: str, request: ChatRequest, default: int) -> int:
        info = self.info.get(deployment)
        ceiling = info.max_output_tokens if info is not None else None
        wanted = request.max_tokens if request.max_tokens is not None else default
        return min(wanted, ceiling) if ceiling else wanted

    def max_cost(self, deployment: str, prompt_tokens: int, output_tokens: int) -> float | None:
        info = self.info.get(deployment)
        if info is None or info.price is None:
            return None
        rates = info.price.rates(prompt_tokens)
        return (prompt_tokens * rates.input_per_mtok + output_tokens * rates.output_per_mtok) / 1_000_000

    def cost(self, deployment: str, usage: Usage) -> float | None:
        info = self.info.get(deployment)
        return cost_usd(info.price if info is not None else None, usage)
