"""Which deployments may serve a request, in what order.

A client names either a model (one deployment, then the default chain) or a route. A route's planner filters
its candidates (tags, capabilities, context window, health) and ranks them by the route's strategy; see
:mod:`.route`. Plans that do not depend on the request are computed once at start-up, so a ``priority`` route's
hot path is the filters' quick checks and a dictionary lookup.

The router also keeps what routing learns from outcomes: affinity (who was served by whom), local RPM/TPM
counts, experiment statistics and the response memory for feedback, and the decision counters.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from ..config import Config, ResilienceConfig, RouteConfig
from ..errors import ModelNotFoundError, NoCandidateError, SwitchyardError, UnsupportedFeatureError
from ..providers.base import Deployment
from ..resilience.health import HealthMonitor
from ..resilience.policy import Policy
from ..types import ChatRequest, Mode, ResponseMeta, RouteDecision
from .affinity import Affinity
from .classified import Classifier, Offload, Scorer, default_classifier, default_scorer, shared_scorer
from .decisions import DecisionCounts
from .experiments import ExperimentBook, Outcome
from .filters import Pool, Removed, no_candidate, qualify
from .needs import Needs
from .route import Plan, RouteContext, RoutePlanner
from .spec import RoutingConfig
from .targets import Target, build_targets
from .usage import LocalUsage, UsageSignals

if TYPE_CHECKING:
    from ..resilience.breaker import Breaker

__all__ = ["Plan", "Router"]


class _Direct:
    """A model named by the client: itself, then the members of the default chain of its own mode (chat or
    embedding). Only its mode and tags filter it (a request tagged ``private`` must not reach a cloud model by
    naming it); capabilities and health are the walk's business, as they always were for a single named model."""

    __slots__ = ("plan", "pool")

    def __init__(self, plan: Plan, pool: Pool) -> None:
        self.plan = plan
        self.pool = pool

    def resolve(self, needs: Needs) -> Plan:
        named = self.plan.candidates[0]
        if named.mode != needs.mode:
            raise _wrong_mode(named, needs.mode)
        if not needs.request.tags:
            return self.plan
        removed: Removed = {}
        kept = qualify(self.pool, needs, None, removed)
        if not kept or kept[0].name != self.plan.requested:
            # The model the client named may not serve it: the chain is a fallback, not a substitute.
            raise no_candidate(self.plan.requested, removed)
        names = tuple(t.name for t in kept)
        decision = RouteDecision(strategy="direct", candidates=names)
        candidates = tuple(d for d in self.plan.candidates if d.name in names)
        return Plan(self.plan.requested, None, candidates, self.plan.policy, decision)


class Router:
    def __init__(
        self,
        deployments: Mapping[str, Deployment],
        routes: Mapping[str, RouteConfig],
        resilience: ResilienceConfig | None = None,
        *,
        targets: Mapping[str, Target] | None = None,
        routing: RoutingConfig | None = None,
        health: HealthMonitor | None = None,
        breaker: Breaker | None = None,
        rng: random.Random | None = None,
        classifier: Callable[[RouteConfig], Classifier] = default_classifier,
        scorer: Callable[[], Scorer] = default_scorer,
    ) -> None:
        resilience = resilience or ResilienceConfig()
        routing = routing or RoutingConfig()
        self.routing = routing
        self.targets = dict(targets) if targets is not None else {n: Target.bare(d) for n, d in deployments.items()}
        self.health = health or HealthMonitor()
        self.local_usage = LocalUsage({n: (t.rpm, t.tpm) for n, t in self.targets.items()})
        self.usage: UsageSignals = self.local_usage
        """RPM/TPM headroom for ``usage`` routes; replace with the rate limiter's view when it has one."""
        self.affinity = Affinity(ttl_s=routing.affinity_ttl_s, max_entries=routing.affinity_max)
        self.decisions = DecisionCounts()
        self.offload = Offload(routing.classifier_threads)
        ctx = RouteContext(
            targets=self.targets, health=self.health, available=breaker.available if breaker is not None else None,
            usage=lambda: self.usage, affinity=self.affinity, rng=rng or random.Random(), classifier=classifier,
            scorer=shared_scorer(scorer), offload=self.offload,
        )
        chain = resilience.fallbacks
        default = Policy.resolve(None, resilience)
        self._direct: dict[str, _Direct] = {}
        for name, deployment in deployments.items():
            names = tuple(dict.fromkeys([name, *(n for n in chain if deployments[n].mode == deployment.mode)]))
            decision = RouteDecision(strategy="direct", candidates=names)
            plan = Plan(name, None, tuple(deployments[n] for n in names), default, decision)
            self._direct[name] = _Direct(plan, Pool.of(self.targets[n] for n in names))
        self._routes: dict[str, RoutePlanner] = {
            name: RoutePlanner(name, route, Policy.resolve(route, resilience), chain, ctx)
            for name, route in routes.items()
        }
        experiments = (p.experiment for p in self._routes.values() if p.experiment is not None)
        self.book = ExperimentBook(experiments, ttl_s=routing.feedback_ttl_s, max_entries=routing.feedback_max)
        self.routes = dict(routes)

    @classmethod
    def from_config(
        cls, config: Config, deployments: Mapping[str, Deployment], *, health: HealthMonitor, breaker: Breaker
    ) -> Router:
        """The gateway's router: deployments' routing metadata from the configuration and the price catalog."""
        return cls(
            deployments, config.routes, config.resilience, targets=build_targets(config, deployments),
            routing=config.routing, health=health, breaker=breaker,
        )

    @property
    def names(self) -> list[str]:
        """Every name a client may send as ``model``."""
        return [*self._direct, *self._routes]

    def _needs(self, request: ChatRequest, mode: Mode) -> Needs:
        return Needs(request, self.routing.tags, mode)

    def _unknown(self, request: ChatRequest) -> ModelNotFoundError:
        available = sorted(self.names)
        shown = ", ".join(available[:20]) + (" ..." if len(available) > 20 else "")
        return ModelNotFoundError(f"unknown model or route '{request.model}'; available: {shown}")

    def plan(
        self, request: ChatRequest, *, user: str | None = None, key: str | None = None, mode: Mode = "chat"
    ) -> Plan:
        """The ordered candidates for ``request``. ``user`` and ``key`` (the virtual key's id) feed experiment
        assignment and affinity; ``mode`` is ``embedding`` for an embeddings request (``request`` is then its
        routing view), which only embedding deployments may serve. A prompt-reading strategy runs inline here; the
        gateway calls :meth:`aplan`."""
        direct = self._direct.get(request.model)
        try:
            if direct is not None:
                return direct.resolve(self._needs(request, mode))
            planner = self._routes.get(request.model)
            if planner is None:
                raise self._unknown(request)
            return planner.plan(request, self._needs(request, mode), user=user, key=key, verdict=None)
        except NoCandidateError:
            self._rejected(request.model)
            raise

    async def aplan(
        self, request: ChatRequest, *, user: str | None = None, key: str | None = None, mode: Mode = "chat"
    ) -> Plan:
        """:meth:`plan`, with classifiers' CPU work (embeddings, the learned router) run on the shared thread
        pool instead of the event loop."""
        planner = self._routes.get(request.model)
        chooser = planner.chooser if planner is not None else None
        if planner is None or chooser is None:
            return self.plan(request, user=user, key=key, mode=mode)
        found = chooser.quick(request, self.offload)
        verdict = found if found is not None else await self.offload.run(chooser.full, request)
        try:
            return planner.plan(request, self._needs(request, mode), user=user, key=key, verdict=verdict)
        except NoCandidateError:
            self._rejected(request.model)
            raise

    def _rejected(self, name: str) -> None:
        # Turned away before any call: counted here, since no outcome will be observed for it.
        planner = self._routes.get(name)
        strategy = planner.label if planner is not None else "direct"
        self.decisions.count(name, RouteDecision(strategy=strategy), "rejected")

    def start(self) -> None:
        """Start loading the prompt-reading strategies' models in the background (seconds of CPU, off the loop)."""
        for planner in self._routes.values():
            if planner.chooser is not None:
                planner.chooser.model.get(self.offload)

    async def warm(self) -> None:
        """Wait until every prompt-reading strategy's model is loaded (or failed to load)."""
        for planner in self._routes.values():
            if planner.chooser is not None:
                await planner.chooser.model.ready(self.offload)

    def observe(
        self,
        plan: Plan,
        request: ChatRequest,
        meta: ResponseMeta | None,
        *,
        user: str | None,
        latency_ms: float,
        cost_usd: float | None,
        tokens: int,
        error: BaseException | None,
        ids: Iterable[str] = (),
    ) -> None:
        """A request on ``plan`` finished: count the decision, remember who served whom (affinity, feedback),
        and count the deployment's usage. Memory only; called once per request by the gateway.

        ``error`` is what the walk raised; anything but a :class:`SwitchyardError` (a stream the client left)
        still counts as answered."""
        decision = plan.decision
        failed = isinstance(error, SwitchyardError)
        deployment = meta.deployment if meta is not None and not failed else None
        if decision is not None:
            self.decisions.count(plan.requested, decision, deployment)
        if deployment is not None:
            self.local_usage.record(deployment, tokens)
            planner = self._routes.get(plan.route or "")
            if planner is not None:
                affinity_key = planner.affinity_key(request, user)
                if affinity_key is not None:
                    self.affinity.remember(planner.name, affinity_key, deployment)
        if decision is not None and decision.arm is not None and plan.route is not None:
            self.book.record(plan.route, decision.arm, deployment, ids, latency_ms, cost_usd, failed)

    def feedback(self, response_id: str, score: float) -> Outcome | None:
        """Score a response served by this process; ``None`` when its id is unknown here or expired."""
        return self.book.feedback(response_id, score)

    def close(self) -> None:
        self.offload.close()


def _wrong_mode(deployment: Deployment, mode: Mode) -> UnsupportedFeatureError:
    if mode == "embedding":
        hint = "it is a chat model" if deployment.profile.embeddings else "the provider has no embeddings API"
        return UnsupportedFeatureError(deployment.provider, "embeddings", model=deployment.model,
                                       hint=f"'{deployment.name}': {hint}")
    return UnsupportedFeatureError(deployment.provider, "chat completions", model=deployment.model,
                                   hint=f"'{deployment.name}' is an embedding model: send it to /v1/embeddings")
