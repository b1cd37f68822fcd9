"""Which deployments may serve a request, in what order.

A client names either a model (one deployment) or a route (ordered ``targets`` then ``fallbacks``). Plans for
``priority`` routes do not depend on the request, so they are computed once at start-up and the hot path is a
dictionary lookup. Ranking strategies and request-dependent filters plug in here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..config import RouteConfig
from ..errors import ModelNotFoundError
from ..providers.base import Deployment
from ..types import ChatRequest

__all__ = ["Plan", "Router"]


@dataclass(frozen=True, slots=True)
class Plan:
    requested: str
    """The model or route name the client sent."""
    route: str | None
    candidates: tuple[Deployment, ...]


class Router:
    def __init__(self, deployments: Mapping[str, Deployment], routes: Mapping[str, RouteConfig]) -> None:
        self._plans: dict[str, Plan] = {
            name: Plan(name, None, (deployment,)) for name, deployment in deployments.items()
        }
        for name, route in routes.items():
            ordered = list(dict.fromkeys([*route.targets, *route.fallbacks]))
            self._plans[name] = Plan(name, name, tuple(deployments[m] for m in ordered))
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
