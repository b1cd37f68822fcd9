"""Admission and accounting for one request: rate limits, budget reservation, tiers — in one atomic step.

``admit`` turns the caller, the request and its plan into one :class:`~switchyard.state.ops.Admit` (every
limit and budget the request counts against) and asks the state store to apply it: one Lua script on Redis.
The reservation is the request's estimated *maximum* cost, so however many requests race, a budget overshoots
by at most one request's misestimate. ``settle`` swaps the reservation for the actual cost once usage is known.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

import msgspec

from ..config import Config, RateLimitConfig
from ..errors import (
    BudgetExceededError,
    ForbiddenError,
    LimitExceededError,
    MaxCostExceededError,
    StateUnavailableError,
)
from ..routing.plan import Plan
from ..state import StateStore
from ..state.ops import Admit, AdmitResult, BudgetCheck, RateCheck, Settle, Tier, to_nano, to_usd
from ..types import ChatRequest, Usage
from .principal import Principal
from .records import BudgetSpec, KeyLimits
from .windows import window_of

__all__ = ["BudgetListener", "Governor", "Pricer", "Ticket"]

logger = logging.getLogger("switchyard.governance")

_NO_LIMITS = KeyLimits()

BudgetListener = Callable[[str, float, float, float], None]
"""``(budget name, spent usd, limit usd, alert_at)`` after every settle: alerts subscribe here."""


class Pricer(Protocol):
    def prompt_tokens(self, request: ChatRequest) -> int: ...
    def max_output(self, deployment: str, request: ChatRequest, default: int) -> int: ...
    def max_cost(self, deployment: str, prompt_tokens: int, output_tokens: int) -> float | None: ...
    def cost(self, deployment: str, usage: Usage) -> float | None: ...


@dataclass(slots=True)
class _Budget:
    check: BudgetCheck
    label: str
    spec: BudgetSpec
    provider: str | None = None


@dataclass(slots=True)
class Ticket:
    """What admission granted; handed back to :meth:`Governor.settle`."""

    member: str
    principal: Principal
    plan: Plan
    budgets: list[_Budget] = field(default_factory=list)
    token_limits: list[RateCheck] = field(default_factory=list)
    prompt_tokens: int = 0
    estimate_usd: float | None = None
    reserved: int = 0
    tier: str | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    counted: bool = True
    """False when the state store was down and policy let the request through uncounted."""


class Governor:
    def __init__(
        self,
        config: Config,
        store: StateStore,
        pricer: Pricer,
        providers: dict[str, str],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``providers`` maps each deployment to its provider name (provider budgets)."""
        self.config = config.governance
        self.models = config.models
        self.routes = config.routes
        self.store = store
        self.pricer = pricer
        self.providers = providers
        self.zone = ZoneInfo(self.config.timezone)
        self.clock = clock
        self.listeners: list[BudgetListener] = []
        self.unavailable = 0
        """Requests admitted uncounted (or refused, fail-closed) because the state store was down."""
        self._budgets = list(self.config.budgets)
        self._unpriced: set[str] = set()
        self._warned = 0.0
        limits = self.config.key_limits
        # Nothing to count for a caller without a key: admission is an estimate and no state-store call.
        self._idle = not (
            self._budgets or self.config.model_limits or limits.rpm or limits.tpm
            or any(m.rpm or m.tpm for m in self.models.values())
        )

    # -- admission ---------------------------------------------------------------------------------------------

    async def admit(
        self, principal: Principal, request: ChatRequest, plan: Plan, member: str, tiers: Sequence[Plan] = (),
        *, prompt_tokens: int | None = None,
    ) -> Ticket:
        """``prompt_tokens``: the request's input, when the caller knows it better than the pricer's estimate of
        ``request`` (an embeddings request's routing view carries no text)."""
        key = principal.key
        if key is not None and key.models and request.model not in key.models:
            raise ForbiddenError(
                f"API key {key.display} may not use '{request.model}' (allowed: {', '.join(key.models)})",
                code="model_not_allowed",
            )
        now = self.clock()
        prompt = self.pricer.prompt_tokens(request) if prompt_tokens is None else prompt_tokens
        options = list(tiers) or [plan]
        estimates = [self._estimate(p, request, prompt) for p in options]
        first_estimate, output = estimates[0]
        if principal.max_cost is not None:
            cheapest = min((e for e, _ in estimates if e is not None), default=None)
            if cheapest is not None and cheapest > principal.max_cost:
                raise MaxCostExceededError(
                    f"estimated cost ${cheapest:.6f} exceeds max_cost ${principal.max_cost:.6f} "
                    f"({prompt} prompt tokens, up to {output} output tokens)"
                )
        if self._idle and (key is None or (not key.budgets and key.limits == _NO_LIMITS)):
            return Ticket(member, principal, plan, prompt_tokens=prompt, estimate_usd=first_estimate)
        primary = options[0].candidates[0].name if options[0].candidates else None
        budgets = self._budgets_for(principal, plan, primary, now)
        # Provider limits are alternatives among one plan's deployments; a tiered route's plan is only known once
        # the script has picked the tier, so its deployments' own limits are not pre-checked.
        limited = None if tiers else plan
        limits, token_limits, key_checks, free = self._limits_for(principal, request, limited, prompt + output)
        op = Admit(
            member=member,
            limits=limits,
            budgets=[b.check for b in budgets],
            amount=to_nano(first_estimate or 0.0),
            tiers=[
                Tier(min_remaining=t.min_remaining, amount=to_nano(e or 0.0))
                for t, (e, _) in zip(self._tier_configs(plan), estimates, strict=False)
            ]
            if tiers
            else [],
            critical=principal.critical,
            free_group=free,
            lease_s=self.config.lease_s,
        )
        ticket = Ticket(member, principal, plan, budgets, token_limits, prompt, first_estimate)
        if not op.limits and not op.budgets:
            return ticket
        try:
            result = await self.store.admit(op)
        except StateUnavailableError:
            self.unavailable += 1
            if self.config.state.on_error == "closed":
                raise
            if self.unavailable == 1 or time.monotonic() - self._warned > 10:
                self._warned = time.monotonic()
                logger.warning(
                    "state store unavailable: admitting requests without limits or budgets (fail-open; %d so far)",
                    self.unavailable,
                )
            ticket.counted = False
            return ticket
        if not result.ok:
            raise self._rejection(result, op, budgets, now)
        chosen = options[result.tier] if tiers and result.tier >= 0 else plan
        if tiers:
            configs = self._tier_configs(plan)
            ticket.tier = configs[result.tier].name or f"tier{result.tier}"
            ticket.estimate_usd = estimates[result.tier][0]
        ticket.plan = _without_skipped(chosen, limits, result)
        ticket.reserved = result.reserved
        ticket.headers = _rate_headers(key_checks, limits, result)
        return ticket

    def _estimate(self, plan: Plan, request: ChatRequest, prompt: int) -> tuple[float | None, int]:
        if not plan.candidates:
            return None, 0
        name = plan.candidates[0].name
        output = self.pricer.max_output(name, request, self.config.reserve_output_tokens)
        cost = self.pricer.max_cost(name, prompt, output)
        if cost is None and name not in self._unpriced:
            self._unpriced.add(name)
            logger.warning("no price known for deployment %s: its requests are not counted against budgets", name)
        return cost, output

    def _tier_configs(self, plan: Plan) -> list[_TierView]:
        route = self.routes.get(plan.route or "")
        return [_TierView(t.min_remaining, t.name) for t in route.tiers] if route else []

    def _budgets_for(self, principal: Principal, plan: Plan, primary: str | None, now: float) -> list[_Budget]:
        members: dict[str, list[str]] = {
            "global": [""],
            "key": [principal.key.id] if principal.key else [],
            "team": [principal.team] if principal.team else [],
            "user": [principal.user] if principal.user else [],
            "feature": list(principal.features),
            "route": [plan.route] if plan.route else [],
            "provider": [self.providers[primary]] if primary in self.providers else [],
        }
        found: list[_Budget] = []
        for i, spec in enumerate(self._budgets):
            for member in members[spec.scope]:
                if spec.name is None or spec.name == member:
                    found.append(self._budget(spec, spec.scope, member, str(i), now))
        if principal.key is not None:
            for i, own in enumerate(principal.key.budgets):
                found.append(self._budget(own, "key", principal.key.id, f"own{i}", now, label=principal.key.display))
        return found

    def _budget(
        self, spec: BudgetSpec, scope: str, member: str, tag: str, now: float, *, label: str | None = None
    ) -> _Budget:
        window = window_of(spec, now, self.zone)
        shown = f"{scope} '{label or member}'" if member else "global"
        limit = to_nano(spec.limit_usd)
        check = BudgetCheck(
            key=self.store.key("budget", scope, member or "-", tag, window.id),
            name=f"{shown} {spec.window} budget ({_money(spec.limit_usd)})",
            limit=limit,
            hard=spec.hard,
            rolling_s=window.rolling_s,
            expires_at=window.resets_at,
            reserved=round(limit * spec.reserved_share),
        )
        return _Budget(check, shown, spec, member if scope == "provider" else None)

    def _limits_for(
        self, principal: Principal, request: ChatRequest, plan: Plan | None, tokens: int
    ) -> tuple[list[RateCheck], list[RateCheck], dict[str, int], int]:
        limits: list[RateCheck] = []
        key_checks: dict[str, int] = {}
        key = principal.key
        if key is not None:
            rpm = key.limits.rpm if key.limits.rpm is not None else self.config.key_limits.rpm
            tpm = key.limits.tpm if key.limits.tpm is not None else self.config.key_limits.tpm
            owner = f"API key {key.display}"
            key_checks = self._add(limits, ("key", key.id), owner, RateLimitConfig(rpm=rpm, tpm=tpm), tokens, 0)
        model_limit = self.config.model_limits.get(request.model)
        if model_limit is not None:
            self._add(limits, ("model", request.model), f"model '{request.model}'", model_limit, tokens, 0)
        # Deployments with a provider limit are alternatives: the first with headroom serves. A deployment without
        # limits always has headroom, so nothing after it needs checking.
        free = 0
        for group, deployment in enumerate(plan.candidates if plan is not None else (), start=1):
            model = self.models.get(deployment.name)
            if model is None or (model.rpm is None and model.tpm is None):
                free = group if group > 1 else 0
                break
            spec = RateLimitConfig(rpm=model.rpm, tpm=model.tpm)
            self._add(limits, ("deployment", deployment.name), f"deployment '{deployment.name}'", spec, tokens, group)
        token_limits = [c for c in limits if c.key.endswith(":tpm")]
        return limits, token_limits, key_checks, free

    def _add(
        self, limits: list[RateCheck], parts: tuple[str, str], owner: str, spec: RateLimitConfig, tokens: int,
        group: int,
    ) -> dict[str, int]:
        index: dict[str, int] = {}
        if spec.rpm is not None:
            index["requests"] = len(limits)
            name = f"{owner}: {spec.rpm} requests per minute"
            key = self.store.key("rate", *parts, "rpm")
            limits.append(RateCheck(key=key, name=name, limit=spec.rpm, amount=1, group=group))
        if spec.tpm is not None:
            index["tokens"] = len(limits)
            name = f"{owner}: {spec.tpm} tokens per minute"
            key = self.store.key("rate", *parts, "tpm")
            limits.append(RateCheck(key=key, name=name, limit=spec.tpm, amount=tokens, group=group))
        return index

    def _rejection(
        self, result: AdmitResult, op: Admit, budgets: list[_Budget], now: float
    ) -> BudgetExceededError | LimitExceededError:
        if result.kind == "rate":
            check = op.limits[result.failed]
            wait = max(result.retry_after, 0.001)
            return LimitExceededError(
                f"rate limit reached for {check.name}; retry after {wait:.1f}s", limit=check.name, retry_after=wait
            )
        budget = budgets[result.failed]
        resets = now + result.retry_after if budget.check.expires_at or budget.check.rolling_s else None
        when = "; it does not reset"
        if resets:
            when = f"; resets {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(resets))}"
        verb = "is used up" if result.kind == "exhausted" else "would be exceeded by this request"
        return BudgetExceededError(f"{budget.check.name} {verb}{when}", budget=budget.check.name, resets_at=resets)

    # -- accounting --------------------------------------------------------------------------------------------

    def cost(self, deployment: str | None, usage: Usage | None) -> float | None:
        """Dollars, from the upstream usage; ``None`` when the price or the usage is unknown."""
        return self.pricer.cost(deployment, usage) if deployment is not None and usage is not None else None

    async def settle(self, ticket: Ticket, deployment: str | None, usage: Usage | None, cost: float | None) -> None:
        """Swap the reservation for the actual ``cost`` (see :meth:`cost`); a failed request costs nothing."""
        if not ticket.counted or (not ticket.budgets and not ticket.token_limits):
            return
        actual_provider = self.providers.get(deployment or "")
        charge: list[BudgetCheck] = []
        release: list[BudgetCheck] = []
        for budget in ticket.budgets:
            if budget.provider is not None and budget.provider != actual_provider:
                release.append(budget.check)
            else:
                charge.append(budget.check)
        extra: list[_Budget] = []
        if actual_provider is not None and any(b.provider not in (None, actual_provider) for b in ticket.budgets):
            extra = [
                self._budget(spec, "provider", actual_provider, str(i), self.clock())
                for i, spec in enumerate(self._budgets)
                if spec.scope == "provider" and spec.name in (None, actual_provider)
            ]
            charge.extend(b.check for b in extra)
        tokens = (usage.input_tokens + usage.output_tokens) if usage is not None else 0
        op = Settle(
            member=ticket.member,
            budgets=charge,
            actual=to_nano(cost or 0.0),
            release=release,
            limits=[msgspec.structs.replace(c, amount=tokens) for c in ticket.token_limits],
        )
        try:
            spent = await self.store.settle(op)
        except StateUnavailableError:
            # The reservation expires after its lease; the spend is in the ledger either way.
            self.unavailable += 1
            logger.warning("state store unavailable: spend of request %s not counted in budgets", ticket.member)
            return
        charged = [b for b in ticket.budgets if b.check in charge] + extra
        for budget, amount in zip(charged, spent, strict=False):
            for listener in self.listeners:
                listener(budget.check.name, to_usd(amount), budget.spec.limit_usd, budget.spec.alert_at)

    async def budget_status(self, principal: Principal, plan: Plan) -> list[dict[str, object]]:
        """Spend and limits of every budget a request like this counts against (admin API, dashboard)."""
        primary = plan.candidates[0].name if plan.candidates else None
        budgets = self._budgets_for(principal, plan, primary, self.clock())
        # A zero reservation that expires at once: the admission script is the one atomic read of a budget.
        probe = Admit(member=f"status-{time.monotonic_ns()}", budgets=[b.check for b in budgets], lease_s=0.001)
        result = await self.store.admit(probe)
        return [
            {
                "budget": b.check.name,
                "limit_usd": b.spec.limit_usd,
                "spent_usd": to_usd(spent),
                "pending_usd": to_usd(pending),
                "resets_at": b.check.expires_at,
                "hard": b.spec.hard,
            }
            for b, spent, pending in zip(budgets, result.spent, result.pending, strict=False)
        ]


def _money(usd: float) -> str:
    # Cents hide small test and trial budgets ("$0.00"): show significant digits below a dollar.
    return f"${usd:,.2f}" if usd >= 1 or usd == 0 else "$" + f"{usd:.8f}".rstrip("0")


@dataclass(frozen=True, slots=True)
class _TierView:
    min_remaining: float
    name: str | None


def _without_skipped(plan: Plan, limits: list[RateCheck], result: AdmitResult) -> Plan:
    """Drop the deployments admission skipped for want of provider headroom, so the walk starts at the one it
    reserved. They stay out of this request: calling them would run into the provider's own 429."""
    if result.group <= 1:
        return plan
    return dataclasses.replace(plan, candidates=plan.candidates[result.group - 1 :])


def _rate_headers(index: dict[str, int], limits: list[RateCheck], result: AdmitResult) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    for unit, i in index.items():
        check = limits[i]
        used = max(result.rate_used[i], 0) if i < len(result.rate_used) else 0
        reset = result.rate_reset[i] if i < len(result.rate_reset) else 0.0
        headers += [
            (f"x-ratelimit-limit-{unit}".encode(), str(check.limit).encode()),
            (f"x-ratelimit-remaining-{unit}".encode(), str(max(check.limit - used, 0)).encode()),
            (f"x-ratelimit-reset-{unit}".encode(), f"{reset:.3f}s".encode()),
        ]
    return headers

