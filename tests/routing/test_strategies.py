"""Each strategy's ordering, through real configurations and the bundled price catalog."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.routing.helpers import MODELS, ask, gateway, order

from switchyard import Message


def test_priority_keeps_the_configured_order_and_reuses_one_precomputed_plan() -> None:
    gw = gateway({"r": {"targets": ["sonnet", "mini"], "fallbacks": ["nano", "mini"]}})
    first, second = gw.router.plan(ask("r")), gw.router.plan(ask("r", "something else"))
    assert [d.name for d in first.candidates] == ["sonnet", "mini", "nano"]
    assert first is second  # no per-request work beyond the filters' quick checks
    assert first.decision is not None
    assert (first.decision.strategy, first.decision.candidates) == ("priority", ("sonnet", "mini", "nano"))


def test_quality_puts_the_best_score_first_and_unscored_models_last() -> None:
    models = {**MODELS, "mini": {**MODELS["mini"], "quality": 0.6}, "opus": {**MODELS["opus"], "quality": 0.9},
              "sonnet": {**MODELS["sonnet"], "quality": 0.8}}
    gw = gateway({"r": {"strategy": "quality", "targets": ["nano", "mini", "opus", "sonnet"]}}, models=models)
    assert order(gw, ask("r")) == ["opus", "sonnet", "mini", "nano"]


def test_cost_ranks_by_catalog_price_and_puts_unknown_prices_last() -> None:
    gw = gateway({"r": {"strategy": "cost", "targets": ["mystery", "opus", "sonnet", "mini", "nano"]}})
    assert order(gw, ask("r")) == ["nano", "mini", "sonnet", "opus", "mystery"]


def test_cost_depends_on_the_request_shape() -> None:
    # Flat $5/$5 against Claude Sonnet's $3 in / $15 out: a long prompt with a short answer favours Sonnet, a
    # short prompt with a long answer the flat price.
    models = {**MODELS, "flat": {"provider": "openai", "model": "acme-flat", "pricing":
                                 {"input_per_mtok": 5.0, "output_per_mtok": 5.0}}}
    gw = gateway({"r": {"strategy": "cost", "targets": ["flat", "sonnet"]}}, models=models)
    assert order(gw, ask("r", "short question", max_tokens=4000)) == ["flat", "sonnet"]
    assert order(gw, ask("r", "word " * 20_000, max_tokens=10)) == ["sonnet", "flat"]


def test_cost_prices_a_long_prompt_at_the_long_context_tier() -> None:
    models = {**MODELS, "flat": {"provider": "openai", "model": "acme-flat", "context_window": 1_000_000,
                                 "pricing": {"input_per_mtok": 2.0, "output_per_mtok": 10.0}}}
    gw = gateway({"r": {"strategy": "cost", "targets": ["flat", "pro"]}}, models=models)
    assert order(gw, ask("r", "short question", max_tokens=100)) == ["pro", "flat"]
    assert order(gw, ask("r", "word " * 240_000, max_tokens=100)) == ["flat", "pro"]


def test_weighted_first_choice_follows_the_weights() -> None:
    gw = gateway({"r": {"strategy": "weighted", "targets": ["mini", "nano", "sonnet"],
                        "weights": {"mini": 3, "nano": 1, "sonnet": 0}}})
    firsts = Counter(order(gw, ask("r"))[0] for _ in range(4000))
    assert firsts["sonnet"] == 0  # weight 0: never first...
    assert abs(firsts["mini"] / 4000 - 0.75) < 0.035  # 5 standard deviations
    assert set(order(gw, ask("r"))) == {"mini", "nano", "sonnet"}  # ...but still a last resort


def test_weighted_defaults_to_each_models_weight() -> None:
    models = {**MODELS, "mini": {**MODELS["mini"], "weight": 9.0}}
    gw = gateway({"r": {"strategy": "weighted", "targets": ["mini", "nano"]}}, models=models)
    firsts = Counter(order(gw, ask("r"))[0] for _ in range(2000))
    assert abs(firsts["mini"] / 2000 - 0.9) < 0.035


def test_least_busy_prefers_fewest_in_flight() -> None:
    gw = gateway({"r": {"strategy": "least-busy", "targets": ["mini", "nano", "sonnet"]}})
    assert order(gw, ask("r")) == ["mini", "nano", "sonnet"]  # ties keep the configured order
    for name, busy in (("mini", 2), ("nano", 1)):
        for _ in range(busy):
            gw.health.started(name)
    assert order(gw, ask("r")) == ["sonnet", "nano", "mini"]
    gw.health.finished("mini")
    gw.health.finished("mini")
    assert order(gw, ask("r")) == ["mini", "sonnet", "nano"]


def latency_gateway(**latency: Any) -> Any:
    return gateway({"r": {"strategy": "latency", "targets": ["mini", "nano", "sonnet"], "latency": latency}})


def test_latency_ranks_fastest_first_and_measures_the_unmeasured() -> None:
    gw = latency_gateway(explore=0)
    gw.health.success("mini", 900)
    gw.health.success("nano", 200)
    # Never measured: tried first, so that it gets a measurement at all.
    assert order(gw, ask("r")) == ["sonnet", "nano", "mini"]
    gw.health.success("sonnet", 500)
    assert order(gw, ask("r")) == ["nano", "sonnet", "mini"]


def test_latency_uses_time_to_first_token_for_streams() -> None:
    gw = latency_gateway(explore=0)
    for name, whole, first in (("mini", 100, 900), ("nano", 300, 50), ("sonnet", 200, 400)):
        gw.health.success(name, whole)
        gw.health.first_token(name, first)
    assert order(gw, ask("r")) == ["mini", "sonnet", "nano"]
    assert order(gw, ask("r", stream=True)) == ["nano", "sonnet", "mini"]


def test_latency_percentile_sees_a_tail_the_average_hides() -> None:
    for percentile, expected in ((None, ["mini", "nano", "sonnet"]), (0.95, ["nano", "sonnet", "mini"])):
        gw = latency_gateway(explore=0, percentile=percentile)
        for _ in range(2):
            gw.health.success("mini", 5000)  # a slow tail...
        for _ in range(18):
            gw.health.success("mini", 100)  # ...that the moving average has forgotten
        for _ in range(20):
            gw.health.success("nano", 400)
            gw.health.success("sonnet", 600)
        assert order(gw, ask("r")) == expected


def test_latency_explores_so_stale_statistics_recover() -> None:
    gw = latency_gateway(explore=0.2)
    for name, ms in (("mini", 100), ("nano", 5000), ("sonnet", 6000)):
        gw.health.success(name, ms)
    firsts = Counter(order(gw, ask("r"))[0] for _ in range(4000))
    assert abs(firsts["mini"] / 4000 - 0.8) < 0.035
    # The explored share is split between the two slow deployments, so both get fresh samples.
    assert firsts["nano"] > 250
    assert firsts["sonnet"] > 250


def test_usage_prefers_the_most_headroom_under_provider_limits() -> None:
    models = {**MODELS, "mini": {**MODELS["mini"], "rpm": 10}, "nano": {**MODELS["nano"], "tpm": 1000}}
    gw = gateway({"r": {"strategy": "usage", "targets": ["mini", "nano", "sonnet"]}}, models=models)
    usage = gw.router.local_usage
    assert order(gw, ask("r")) == ["mini", "nano", "sonnet"]
    for _ in range(5):
        usage.record("mini", 10)  # half its RPM used
    usage.record("nano", 800)  # 80 % of its TPM used
    # sonnet has no limits (all headroom), then mini (50 % left), then nano (20 % left).
    assert order(gw, ask("r")) == ["sonnet", "mini", "nano"]
    assert usage.headroom("sonnet") is None


def test_usage_reads_whatever_signals_are_plugged_in() -> None:
    class Fixed:
        def headroom(self, deployment: str) -> float | None:
            return {"mini": 0.1, "nano": 0.7}.get(deployment)

    gw = gateway({"r": {"strategy": "usage", "targets": ["mini", "nano"]}})
    gw.router.usage = Fixed()
    assert order(gw, ask("r")) == ["nano", "mini"]


def test_strategies_rank_targets_and_fallbacks_follow_in_order() -> None:
    gw = gateway({"r": {"strategy": "cost", "targets": ["opus", "mini"], "fallbacks": ["sonnet", "nano"]}})
    assert order(gw, ask("r")) == ["mini", "opus", "sonnet", "nano"]
    request = ask("r")
    request.messages.append(Message.assistant("ok"))
    assert gw.router.plan(request).decision is not None
