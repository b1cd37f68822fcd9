"""Admission and settlement over a real state store, with a fixed price list standing in for the catalog so
that every expected dollar figure can be worked out by hand."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard import parse_config
from switchyard.errors import BudgetExceededError, ForbiddenError, LimitExceededError, MaxCostExceededError
from switchyard.governance.governor import Governor
from switchyard.governance.keys import new_key
from switchyard.governance.principal import Principal
from switchyard.governance.records import BudgetSpec, KeyLimits
from switchyard.providers.registry import build_deployments
from switchyard.providers.transport import AiohttpTransport
from switchyard.routing.plan import Router
from switchyard.state import MemoryStore
from switchyard.types import ChatRequest, Message, Usage

PRICES = {"cheap": (1.0, 2.0), "pricey": (10.0, 20.0), "other": (1.0, 2.0)}
"""Dollars per million input / output tokens."""


class FixedPricer:
    def prompt_tokens(self, request: ChatRequest) -> int:
        return 1000

    def max_output(self, deployment: str, request: ChatRequest, default: int) -> int:
        return request.max_tokens if request.max_tokens is not None else default

    def max_cost(self, deployment: str, prompt_tokens: int, output_tokens: int) -> float | None:
        price = PRICES.get(deployment)
        return None if price is None else (prompt_tokens * price[0] + output_tokens * price[1]) / 1e6

    def cost(self, deployment: str, usage: Usage) -> float | None:
        price = PRICES[deployment]
        return (usage.input_tokens * price[0] + usage.output_tokens * price[1]) / 1e6


def make(governance: dict[str, Any], routes: dict[str, Any] | None = None) -> tuple[Governor, Router]:
    config = parse_config({
        "providers": {
            "a": {"type": "openai", "api_key": "x", "base_url": "http://127.0.0.1:9/v1"},
            "b": {"type": "openai", "api_key": "x", "base_url": "http://127.0.0.1:9/v1"},
        },
        "models": {
            "cheap": {"provider": "a", "model": "m1"},
            "pricey": {"provider": "a", "model": "m2", "rpm": 2},
            "other": {"provider": "b", "model": "m3"},
        },
        "routes": routes or {},
        "governance": governance,
    })
    deployments = build_deployments(config, AiohttpTransport())
    governor = Governor(config, MemoryStore(), FixedPricer(), {n: d.provider for n, d in deployments.items()})
    return governor, Router(deployments, config.routes, config.resilience)


def ask(model: str, max_tokens: int = 1000) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message.user("hi")], max_tokens=max_tokens)


async def test_reserves_the_maximum_and_settles_the_actual() -> None:
    governor, router = make({"budgets": [{"scope": "global", "limit_usd": 0.01, "window": "daily"}]})
    request = ask("cheap")  # reserve 1000 tokens at $1/M + 1000 at $2/M = $0.003
    tickets = [await governor.admit(Principal(), request, router.plan(request), f"r{i}") for i in range(3)]
    assert [t.estimate_usd for t in tickets] == [pytest.approx(0.003)] * 3
    with pytest.raises(BudgetExceededError, match=r"global daily budget \(\$0.01\) would be exceeded") as caught:
        await governor.admit(Principal(), request, router.plan(request), "r3")
    assert caught.value.resets_at is not None
    usage = Usage(input_tokens=100, output_tokens=100)
    for ticket in tickets:
        await governor.settle(ticket, "cheap", usage, governor.cost("cheap", usage))
    # $0.0003 each actually spent: room again.
    await governor.admit(Principal(), request, router.plan(request), "r4")


async def test_scoped_budgets_follow_the_principal() -> None:
    governor, router = make({"budgets": [
        {"scope": "team", "name": "search", "limit_usd": 0.001},
        {"scope": "user", "limit_usd": 0.005},
        {"scope": "feature", "name": "summarize", "limit_usd": 0.002},
    ]})
    request = ask("cheap")
    with pytest.raises(BudgetExceededError, match="team 'search'"):
        await governor.admit(Principal(team="search"), request, router.plan(request), "a")
    await governor.admit(Principal(team="ads", user="u1"), request, router.plan(request), "b")
    with pytest.raises(BudgetExceededError, match="feature 'summarize'"):
        await governor.admit(Principal(features=("summarize",)), request, router.plan(request), "c")
    # Each user has their own $0.005: u1 holds $0.003 reserved, u2 none.
    with pytest.raises(BudgetExceededError, match="user 'u1'"):
        await governor.admit(Principal(user="u1"), request, router.plan(request), "d")
    await governor.admit(Principal(user="u2"), request, router.plan(request), "e")


async def test_key_limits_models_and_own_budgets() -> None:
    governor, router = make({})
    _, key = new_key("ci", models=["cheap"], limits=KeyLimits(rpm=2), budgets=[BudgetSpec(limit_usd=1.0)])
    principal = Principal.of(key)
    request = ask("cheap")
    first = await governor.admit(principal, request, router.plan(request), "1")
    assert dict(first.headers)[b"x-ratelimit-remaining-requests"] == b"1"
    await governor.admit(principal, request, router.plan(request), "2")
    with pytest.raises(LimitExceededError, match=r"API key sk-sy-.*: 2 requests per minute") as caught:
        await governor.admit(principal, request, router.plan(request), "3")
    assert 59 < caught.value.retry_after <= 60
    with pytest.raises(ForbiddenError, match="may not use 'pricey'"):
        await governor.admit(principal, ask("pricey"), router.plan(ask("pricey")), "4")


async def test_provider_limit_moves_the_request_to_a_deployment_with_headroom() -> None:
    governor, router = make({}, {"r": {"targets": ["pricey", "cheap"]}})
    request = ask("r")
    chosen = [(await governor.admit(Principal(), request, router.plan(request), str(i))).plan for i in range(3)]
    assert [p.candidates[0].name for p in chosen] == ["pricey", "pricey", "cheap"]


async def test_max_cost_rejects_before_any_call() -> None:
    governor, router = make({})
    request = ask("pricey")
    with pytest.raises(MaxCostExceededError, match=r"estimated cost \$0.030000 exceeds max_cost \$0.010000"):
        await governor.admit(Principal(max_cost=0.01), request, router.plan(request), "x")


async def test_tiers_degrade_with_the_budget_and_critical_keeps_the_best() -> None:
    governor, router = make(
        {"budgets": [{"scope": "global", "limit_usd": 0.1, "reserved_share": 0.05}]},
        {"tiered": {"targets": ["pricey"], "tiers": [
            {"min_remaining": 0.8, "targets": ["pricey"], "name": "quality"},
            {"min_remaining": 0.0, "targets": ["cheap"], "name": "economy"},
        ]}},
    )
    request = ask("tiered")
    plan = router.plan(request)
    tiers = [plan.__class__(plan.requested, plan.route, (router.plan(ask(t)).candidates[0],), plan.policy)
             for t in ("pricey", "cheap")]
    served = []
    for i in range(12):
        ticket = await governor.admit(Principal(), request, plan, f"t{i}", tiers)
        served.append(ticket.tier)
        deployment = ticket.plan.candidates[0].name
        usage = Usage(input_tokens=1000, output_tokens=1000)
        await governor.settle(ticket, deployment, usage, governor.cost(deployment, usage))
    # $0.03 per quality request: after 1 (70 % left... below 80 %) the economy tier serves.
    assert served[0] == "quality"
    assert set(served[1:]) == {"economy"}
    critical = await governor.admit(Principal(critical=True), request, plan, "c", tiers)
    assert critical.tier == "quality"


async def test_provider_budget_is_charged_to_the_provider_that_answered() -> None:
    governor, router = make(
        {"budgets": [{"scope": "provider", "limit_usd": 1.0}]}, {"r": {"targets": ["cheap"], "fallbacks": ["other"]}}
    )
    request = ask("r")
    ticket = await governor.admit(Principal(), request, router.plan(request), "p")
    usage = Usage(input_tokens=1_000_000, output_tokens=0)
    spent: list[tuple[str, float]] = []
    governor.listeners.append(lambda name, usd, limit, alert: spent.append((name, usd)))
    await governor.settle(ticket, "other", usage, governor.cost("other", usage))
    assert spent == [("provider 'b' monthly budget ($1.00)", pytest.approx(1.0))]
