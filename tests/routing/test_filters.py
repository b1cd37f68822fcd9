"""Filters before ranking: capabilities, context window, tags, health, and the errors when nothing qualifies."""

from __future__ import annotations

import pytest
from tests.routing.helpers import MODELS, ask, gateway, order

from switchyard import ChatRequest, Message, ResponseFormat, Tool
from switchyard.errors import NoCandidateError

IMAGE = "https://example.com/cat.png"


def vision(model: str) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message.user("what is this?", IMAGE)])


def test_a_vision_request_skips_models_without_vision() -> None:
    gw = gateway({"r": {"targets": ["o3m", "mini"], "fallbacks": ["o3m", "sonnet"]}})
    assert order(gw, ask("r")) == ["o3m", "mini", "sonnet"]
    plan = gw.router.plan(vision("r"))
    assert [d.name for d in plan.candidates] == ["mini", "sonnet"]
    assert plan.decision is not None
    assert plan.decision.candidates == ("mini", "sonnet")


def test_no_model_with_the_capability_is_a_400_naming_filter_and_deployment() -> None:
    models = {**MODELS, "plain": {"provider": "openai", "model": "gpt-4o-mini",
                                  "capabilities": {"tools": False, "json_schema": False}}}
    gw = gateway({"r": {"targets": ["o3m", "plain"]}, "reasoning": {"targets": ["o3m"]}}, models=models)
    with pytest.raises(NoCandidateError) as caught:
        gw.router.plan(vision("reasoning"))
    error = caught.value
    assert error.status_code == 400
    assert error.removed == {"capability": ["o3m"]}
    assert error.message == "no deployment of 'reasoning' can serve this request: capability removed o3m (no vision)"
    schema = ResponseFormat(type="json_schema", name="x", schema={"type": "object"})
    tool = Tool(name="lookup")
    assert order(gw, ask("r", response_format=schema)) == ["o3m"]
    assert order(gw, ask("r", tools=[tool])) == ["o3m"]


def test_vision_alone_and_plain_removed_together_are_listed() -> None:
    models = {**MODELS, "plain": {"provider": "openai", "model": "gpt-4o-mini", "capabilities": {"vision": False}}}
    gw = gateway({"r": {"targets": ["o3m", "plain"]}}, models=models)
    with pytest.raises(NoCandidateError, match=r"capability removed o3m \(no vision\), plain \(no vision\)"):
        gw.router.plan(vision("r"))


def test_context_window_removes_models_the_prompt_does_not_fit() -> None:
    gw = gateway({"r": {"targets": ["mini", "nano"]}})  # 128K and ~1M windows
    long = "word " * 150_000
    assert order(gw, ask("r", long)) == ["nano"]
    assert order(gw, ask("r", "word " * 100_000)) == ["mini", "nano"]
    # The answer must fit too: max_tokens counts against the window.
    assert order(gw, ask("r", "word " * 100_000, max_tokens=40_000)) == ["nano"]
    small = gateway({"r": {"targets": ["mini"]}})
    with pytest.raises(NoCandidateError, match=r"context_window removed mini \(window 128000 < ~\d+ tokens\)") as e:
        small.router.plan(ask("r", long))
    assert e.value.status_code == 400


def test_tags_send_private_requests_only_to_local_deployments() -> None:
    gw = gateway({"r": {"targets": ["mini", "llama"], "fallbacks": ["sonnet"]}},
                 routing={"tags": {"private": ["local"]}})
    assert order(gw, ask("r", tags=["private"])) == ["llama"]
    with pytest.raises(NoCandidateError, match=r"tags removed mini \(lacks tag local\)") as caught:
        gw.router.plan(ask("mini", tags=["private"]))  # naming a cloud model directly does not get around it
    assert caught.value.status_code == 400
    # A tag without a rule demands itself; an empty rule demands nothing.
    with pytest.raises(NoCandidateError, match="lacks tag eu"):
        gw.router.plan(ask("r", tags=["eu"]))
    relaxed = gateway({"r": {"targets": ["mini"]}}, routing={"tags": {"audit": []}})
    assert order(relaxed, ask("r", tags=["audit"])) == ["mini"]


async def test_health_removes_open_breakers_and_503_when_only_health_stood_in_the_way() -> None:
    gw = gateway({"r": {"targets": ["mini", "nano"], "fallbacks": ["o3m"]}})
    try:
        await gw.breaker.failure("mini", "down", force_open=True)
        assert order(gw, ask("r")) == ["nano", "o3m"]
        await gw.breaker.failure("nano", "down", force_open=True)
        await gw.breaker.failure("o3m", "down", force_open=True)
        with pytest.raises(NoCandidateError) as caught:
            gw.router.plan(ask("r"))
        assert caught.value.status_code == 503
        assert caught.value.error_type == "upstream_unavailable"
        assert "health removed mini (circuit breaker open), nano (circuit breaker open), o3m" in caught.value.message
        # Vision rules o3m out for good, but mini and nano only for now: still a 503.
        with pytest.raises(NoCandidateError, match=r"capability removed o3m .*; health removed mini") as caught:
            gw.router.plan(vision("r"))
        assert caught.value.status_code == 503
    finally:
        await gw.aclose()


async def test_a_breaker_due_for_its_probe_is_a_candidate_again() -> None:
    now = [1000.0]
    gw = gateway({"r": {"targets": ["mini", "nano"]}}, resilience={"breaker": {"cooldown_s": 30}})
    gw.breaker.now = lambda: now[0]
    try:
        await gw.breaker.failure("mini", "down", force_open=True)
        assert order(gw, ask("r")) == ["nano"]
        now[0] += 31
        assert order(gw, ask("r")) == ["mini", "nano"]
    finally:
        await gw.aclose()


def test_a_model_named_directly_is_not_filtered_by_capability() -> None:
    # A single named model keeps its old behaviour: the adapter's own check explains what it cannot do.
    gw = gateway({})
    assert order(gw, vision("o3m")) == ["o3m"]


def test_turned_away_requests_are_counted_as_rejected() -> None:
    gw = gateway({"reasoning": {"targets": ["o3m"]}})
    for _ in range(2):
        with pytest.raises(NoCandidateError):
            gw.router.plan(vision("reasoning"))
    assert gw.router.decisions.total(route="reasoning", strategy="priority", chosen="rejected") == 2
