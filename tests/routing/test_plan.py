"""Plans: names resolve to ordered candidates; unknown names say what exists."""

from __future__ import annotations

import pytest

from switchyard import ChatRequest, Gateway, Message, ModelNotFoundError, parse_config


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
