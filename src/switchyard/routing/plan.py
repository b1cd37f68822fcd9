"""Which deployments may serve a request, in what order.

A client names either a model (one deployment) or a route (ordered ``targets`` then ``fallbacks``). Plans for
``priority`` routes do not depend on the request, so they are computed once at start-up and the hot path is a
dictionary lookup. Ranking strategies and request-dependent filters plug in here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..config import ResilienceConfig, RouteConfig
from ..errors import ModelNotFoundError
from ..providers.base import Deployment
from ..resilience.policy import Policy
from ..types import ChatRequest

__all__ = ["Plan", "Router"]


@dataclass(frozen=True, slots=True)
class Plan:
    requested: str
    """The model or route name the client sent."""
    route: str | None
    candidates: tuple[Deployment, ...]
    policy: Policy


class Router:
    def __init__(
        self,
        deployments: Mapping[str, Deployment],
        routes: Mapping[str, RouteConfig],
        resilience: ResilienceConfig | None = None,
    ) -> None:
        resilience = resilience or ResilienceConfig()
        chain = resilience.fallbacks
        default = Policy.resolve(None, resilience)

        def candidates(*names: str) -> tuple[Deployment, ...]:
            # The default chain follows everything; dict.fromkeys keeps the first position of a repeated name.
            return tuple(deployments[m] for m in dict.fromkeys([*names, *chain]))

        self._plans: dict[str, Plan] = {
            name: Plan(name, None, candidates(name), default) for name in deployments
        }
        for name, route in routes.items():
            policy = Policy.resolve(route, resilience)
            self._plans[name] = Plan(name, name, candidates(*route.targets, *route.fallbacks), policy)
        self.routes = dict(routes)

    @property
    def names(self) -> list[str]:
        """Every name a client may send as ``model``."""
        return list(self._plans)

    def plan(self, request: ChatRequest) -> Plan:
        plan = self._plans.get(request.model)
        if plan is None:
            available = sorted(self._plans)
            shown = ", ".join(available[:20]) + (" ..." if len(available) > 20 else "")
            raise ModelNotFoundError(f"unknown model or route '{request.model}'; available: {shown}")
        return plan
