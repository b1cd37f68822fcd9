"""Plans: names resolve to ordered candidates; unknown names say what exists."""

from __future__ import annotations

import pytest

from switchyard import ChatRequest, Gateway, Message, ModelNotFoundError, RouteDecision, parse_config
from switchyard.routing.plan import Router


def gateway_with_routes() -> Gateway:
    return Gateway(parse_config({
        "providers": {"p": {"type": "openai", "api_key": "k", "base_url": "http://127.0.0.1:1/v1"}},
        "models": {"a": {"provider": "p", "model": "ma"}, "b": {"provider": "p", "model": "mb"},
                   "c": {"provider": "p", "model": "mc"}},
        "routes": {"r": {"targets": ["b", "a"], "fallbacks": ["a", "c"]}},
    }, env={}))


def test_route_orders_targets_then_fallbacks_without_duplicates() -> None:
    plan = gateway_with_routes().router.plan(ChatRequest(model="r", messages=[Message.user("x")]))
    assert plan.route == "r"
    assert [d.name for d in plan.candidates] == ["b", "a", "c"]


def test_model_name_is_a_single_candidate_plan() -> None:
    plan = gateway_with_routes().router.plan(ChatRequest(model="c", messages=[Message.user("x")]))
    assert plan.route is None
    assert [(d.name, d.model) for d in plan.candidates] == [("c", "mc")]


def test_unknown_name_lists_what_exists() -> None:
    with pytest.raises(ModelNotFoundError, match=r"unknown model or route 'zzz'; available: a, b, c, r"):
        gateway_with_routes().router.plan(ChatRequest(model="zzz", messages=[Message.user("x")]))


def test_a_router_without_configuration_still_plans_and_explains() -> None:
    gw = gateway_with_routes()
    router = Router(gw.deployments, gw.config.routes)
    plan = router.plan(ChatRequest(model="r", messages=[Message.user("x")]))
    assert [d.name for d in plan.candidates] == ["b", "a", "c"]
    assert plan.decision == RouteDecision(strategy="priority", candidates=("b", "a", "c"))
    direct = router.plan(ChatRequest(model="a", messages=[Message.user("x")]))
    assert direct.decision == RouteDecision(strategy="direct", candidates=("a",))
    assert router.names == ["a", "b", "c", "r"]


async def test_aplan_is_plan_for_routes_that_do_not_read_the_prompt() -> None:
    router = gateway_with_routes().router
    request = ChatRequest(model="r", messages=[Message.user("x")])
    assert await router.aplan(request) is router.plan(request)
    with pytest.raises(ModelNotFoundError):
        await router.aplan(ChatRequest(model="zzz", messages=[Message.user("x")]))
