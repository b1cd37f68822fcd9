"""Prices per deployment, resolved once at start-up from the bundled catalog and the configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import Config
from ..types import ChatRequest, Usage

__all__ = ["CatalogPricer"]


class CatalogPricer:
    """The :class:`~switchyard.governance.governor.Pricer` the gateway uses."""

    def __init__(self, config: Config) -> None:
        from ..pricing import cost_usd, estimate_prompt_tokens, resolve

        self._cost_usd, self._estimate = cost_usd, estimate_prompt_tokens
        self.info: Mapping[str, Any] = {
            name: resolve(model, config.providers[model.provider].type) for name, model in config.models.items()
        }

    def prompt_tokens(self, request: ChatRequest) -> int:
        return int(self._estimate(request))

    def max_output(self, deployment: str, request: ChatRequest, default: int) -> int:
        info = self.info.get(deployment)
        ceiling = info.max_output_tokens if info is not None and info.max_output_tokens else None
        wanted = request.max_tokens if request.max_tokens is not None else default
        return min(wanted, ceiling) if ceiling else wanted

    def max_cost(self, deployment: str, prompt_tokens: int, output_tokens: int) -> float | None:
        info = self.info.get(deployment)
        if info is None or info.price is None:
            return None
        price = info.price
        return (prompt_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / 1_000_000

    def cost(self, deployment: str, usage: Usage) -> float | None:
        info = self.info.get(deployment)
        cost: float | None = self._cost_usd(info.price if info is not None else None, usage)
        return cost
