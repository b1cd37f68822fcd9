"""One route's planner: which candidate lists it has, which one a request gets (experiment arm, task class,
strong/weak), the filters, the ranking, affinity, and the explanation.

Everything that does not depend on the request is built here at start-up: the candidate pools (already in the
strategy's static order), the deployments as this route sends to them (with prompt variants), and, for a request
that nothing changes, the whole :class:`Plan`. A ``priority`` route's request then costs the filters' quick
checks and a dictionary lookup.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..providers.base import Deployment
from ..resilience.policy import Policy
from ..types import ChatRequest, RouteDecision
from .affinity import Affinity
from .classified import Classifier, Offload, Scorer, StrongWeakChooser, TaskChooser, Verdict, _Model
from .experiments import Experiment
from .filters import Available, Pool, Removed, no_candidate, qualify
from .needs import Needs
from .prompts import PromptedDeployment
from .strategies import Cost, Latency, LeastBusy, Priority, Quality, Strategy, Usage, Weighted
from .targets import Target
from .usage import UsageSignals

if TYPE_CHECKING:
    from ..config import RouteConfig
    from ..resilience.health import HealthMonitor

__all__ = ["Chooser", "Plan", "RouteContext", "RoutePlanner", "Section"]


class Chooser(Protocol):
    """A prompt-reading strategy: ``quick`` answers inline when it can, ``full`` blocks (run it in the pool)."""

    def quick(self, request: ChatRequest, offload: Offload) -> Verdict | None: ...
    def full(self, request: ChatRequest) -> Verdict: ...


@dataclass(frozen=True, slots=True)
class Plan:
    requested: str
    """The model or route name the client sent."""
    route: str | None
    candidates: tuple[Deployment, ...]
    policy: Policy
    decision: RouteDecision | None = None
    """Why these candidates in this order (``ResponseMeta.routing``, ``x-switchyard-route``)."""


@dataclass(slots=True)
class RouteContext:
    """What every planner of one router shares."""

    targets: Mapping[str, Target]
    health: HealthMonitor
    available: Available | None
    usage: Callable[[], UsageSignals]
    affinity: Affinity
    rng: random.Random
    classifier: Callable[[RouteConfig], Classifier]
    scorer: _Model[Scorer]
    offload: Offload


def strategy_for(route: RouteConfig, ctx: RouteContext) -> Strategy:
    match route.strategy:
        case "weighted":
            return Weighted(route.weights, ctx.rng)
        case "least-busy":
            return LeastBusy(ctx.health)
        case "latency":
            return Latency(ctx.health, ctx.rng, percentile=route.latency.percentile, explore=route.latency.explore)
        case "cost":
            return Cost()
        case "quality":
            return Quality()
        case "usage":
            return Usage(ctx.usage)
        case _:
            # priority, and the prompt-reading strategies: their lists are ranked as configured.
            return Priority()


class Section:
    """One candidate list of a route (its targets, an arm, a task's models) with the fallbacks after it."""

    __slots__ = ("plan", "primary", "tail")

    def __init__(self, primary: Pool, tail: Pool, plan: Plan | None) -> None:
        self.primary = primary
        self.tail = tail
        self.plan = plan
        """The plan when no filter removes anything, for strategies whose order is fixed; else ``None``."""


class RoutePlanner:
    def __init__(
        self, name: str, route: RouteConfig, policy: Policy, chain: Sequence[str], ctx: RouteContext
    ) -> None:
        self.name = name
        self.route = route
        self.policy = policy
        self.ctx = ctx
        self.strategy = strategy_for(route, ctx)
        self.static = isinstance(self.strategy, Priority) and route.affinity is None
        self.label = route.strategy
        self._deploy: dict[str, Deployment] = {}
        self._tail_names = [*route.fallbacks, *chain]
        self.experiment = Experiment(name, route.experiment, ctx.rng) if route.experiment is not None else None
        self.chooser: TaskChooser | StrongWeakChooser | None = None
        self.sections: dict[str, Section] = {}
        if route.strategy == "classify":
            self.chooser = TaskChooser(name, route, ctx.classifier)
            for task, models in route.tasks.items():
                self.sections[f"task:{task}"] = self._section(models)
            self.sections["default"] = self._section(route.default or route.targets)
        elif route.strategy == "strong_weak":
            self.chooser = StrongWeakChooser(name, route.threshold, ctx.scorer)
            self.sections["strong"] = self._section(route.strong)
            self.sections["weak"] = self._section(route.weak)
        elif self.experiment is not None:
            for arm, spec in self.experiment.config.arms.items():
                self.sections[f"arm:{arm}"] = self._section(spec.targets)
        else:
            self.sections["targets"] = self._section(route.targets)

    def _deployment(self, name: str) -> Deployment:
        # Built once per name at start-up, so the hot path is a dictionary lookup.
        deployment = self._deploy.get(name)
        if deployment is None:
            base = self.ctx.targets[name].deployment
            variant = self.route.prompts.get(name)
            deployment = PromptedDeployment.wrap(base, variant) if variant is not None else base
            self._deploy[name] = deployment
        return deployment

    def _section(self, models: Iterable[str]) -> Section:
        names = list(dict.fromkeys(models))
        targets = self.ctx.targets
        primary = self.strategy.prepare(tuple(targets[n] for n in names))
        tail = tuple(targets[n] for n in dict.fromkeys(self._tail_names) if n not in names)
        for target in (*primary, *tail):
            self._deployment(target.name)
        plan = None
        if self.static and self.experiment is None and self.chooser is None:
            order = tuple(t.name for t in (*primary, *tail))
            plan = self._plan(order, RouteDecision(strategy=self.label, candidates=order))
        return Section(Pool.of(primary), Pool.of(tail), plan)

    def _plan(self, order: tuple[str, ...], decision: RouteDecision) -> Plan:
        deploy = self._deploy
        return Plan(self.name, self.name, tuple(deploy[n] for n in order), self.policy, decision)

    def affinity_key(self, request: ChatRequest, user: str | None) -> str | None:
        mode = self.route.affinity
        if mode == "user":
            return user or request.user
        if mode == "session":
            return request.session
        return None

    def plan(
        self, request: ChatRequest, needs: Needs, *, user: str | None, key: str | None, verdict: Verdict | None
    ) -> Plan:
        """The plan for one request; ``verdict`` is the prompt-reading strategy's answer, already computed off the
        event loop (``None``: compute it here, inline)."""
        arm = task = tier = None
        confidence = None
        if self.chooser is not None:
            if verdict is None:
                verdict = self.chooser.quick(request, self.ctx.offload) or self.chooser.full(request)
            section = self.sections[f"task:{verdict.task}" if verdict.use == "task" else verdict.use]
            task, tier, confidence = verdict.task, verdict.tier, verdict.confidence
        elif self.experiment is not None:
            arm = self.experiment.assign(user, key)
            section = self.sections[f"arm:{arm}"]
        else:
            section = self.sections["targets"]
        removed: Removed = {}
        available = self.ctx.available
        primary = qualify(section.primary, needs, available, removed)
        tail = qualify(section.tail, needs, available, removed)
        if not primary and not tail:
            raise no_candidate(self.name, removed)
        if section.plan is not None and not removed:
            return section.plan
        ranked: Sequence[Target] = self.strategy.rank(primary, needs) if primary else ()
        stuck = False
        affinity_key = self.affinity_key(request, user)
        if affinity_key is not None:
            # Only while the deployment passed the filters (health included) does the user stay on it.
            preferred = self.ctx.affinity.get(self.name, affinity_key)
            index = next((i for i, t in enumerate(ranked) if t.name == preferred), None)
            if index is not None:
                ranked = [ranked[index], *ranked[:index], *ranked[index + 1 :]]
                stuck = True
        names = tuple([t.name for t in ranked] + [t.name for t in tail])
        decision = RouteDecision(
            strategy=self.label, candidates=names, task=task, classifier=tier, confidence=confidence, arm=arm,
            affinity=stuck,
        )
        return self._plan(names, decision)
