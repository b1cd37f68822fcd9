"""What routing knows about each deployment, resolved once at start-up: tags, quality, weight, price, window,
provider limits, whether it serves chat or embeddings, and which request features it is known not to support.

Nothing here changes per request, so the strategies and filters read plain attributes on the hot path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..config import Config
from ..pricing import Price, resolve
from ..providers.base import Deployment
from ..types import Mode

__all__ = ["FEATURES", "Target", "build_targets"]

FEATURES = ("tools", "vision", "json_schema", "streaming")
"""Request features a deployment may lack; :mod:`.needs` derives which of them a request uses."""


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    deployment: Deployment
    tags: frozenset[str]
    quality: float | None
    weight: float
    price: Price | None
    """``None``: unknown, which ranks last under ``cost`` (never as free)."""
    context_window: int | None
    lacks: frozenset[str]
    """Features this deployment is known not to support (an unknown capability is not a lack)."""
    rpm: int | None
    tpm: int | None
    mode: Mode = "chat"
    """``chat`` or ``embedding`` (``Deployment.mode``): which kind of request it may serve."""

    @classmethod
    def bare(cls, deployment: Deployment) -> Target:
        """What the deployment alone says (no catalog, no routing metadata), for a router built without a
        configuration."""
        return cls(deployment.name, deployment, frozenset(), None, 1.0, None, deployment.context_window,
                   _lacks(deployment, {}), None, None, deployment.mode)


def _lacks(deployment: Deployment, catalog_flags: Mapping[str, bool | None]) -> frozenset[str]:
    # The provider profile says what the wire protocol carries, the catalog what the model can do; either one
    # saying "no" is a no.
    profile = deployment.profile
    lacking = {name for name in ("tools", "vision", "json_schema") if not getattr(profile, name)}
    lacking.update(name for name in FEATURES if catalog_flags.get(name) is False)
    return frozenset(lacking)


def build_targets(config: Config, deployments: Mapping[str, Deployment]) -> dict[str, Target]:
    targets: dict[str, Target] = {}
    for name, deployment in deployments.items():
        model = config.models[name]
        info = resolve(model, config.providers[model.provider].type)
        caps = info.capabilities
        flags = {"tools": caps.tools, "vision": caps.vision, "json_schema": caps.json_schema,
                 "streaming": caps.streaming}
        targets[name] = Target(
            name=name,
            deployment=deployment,
            tags=frozenset(model.tags),
            quality=model.quality,
            weight=model.weight,
            price=info.price,
            context_window=deployment.context_window or info.context_window,
            lacks=_lacks(deployment, flags),
            rpm=model.rpm,
            tpm=model.tpm,
            mode=deployment.mode,
        )
    return targets
