"""A/B experiments: sticky, weighted assignment; per-arm statistics; feedback by response id."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from tests.routing.helpers import ask, config

from switchyard import Gateway, InvalidRequestError, parse_config
from switchyard.governance.principal import Principal
from switchyard.routing.experiments import Experiment, ExperimentBook
from switchyard.routing.spec import ArmConfig, ExperimentConfig
from switchyard.simulator import Simulator

ARMS = {"control": ArmConfig(targets=["mini"]), "cheap": ArmConfig(targets=["nano"])}


def experiment(**settings: object) -> Experiment:
    return Experiment("r", ExperimentConfig(arms=ARMS, **settings), random.Random(7))  # type: ignore[arg-type]


def test_split_follows_the_weights() -> None:
    ab = experiment(weights={"control": 90, "cheap": 10})
    arms = Counter(ab.assign(f"user-{i}", None) for i in range(20_000))
    assert abs(arms["cheap"] / 20_000 - 0.10) < 0.011  # 5 standard deviations


def test_assignment_is_sticky_per_user_and_stable_across_processes() -> None:
    ab = experiment(weights={"control": 50, "cheap": 50})
    again = experiment(weights={"control": 50, "cheap": 50})  # another replica: no shared state
    first = {u: ab.assign(f"user-{u}", None) for u in range(200)}
    assert all(ab.assign(f"user-{u}", None) == arm for u, arm in first.items())
    assert all(again.assign(f"user-{u}", None) == arm for u, arm in first.items())
    assert set(first.values()) == {"control", "cheap"}


def test_sticky_key_ignores_the_user_and_sticky_user_falls_back_to_the_key() -> None:
    by_key = experiment(sticky="key")
    assert len({by_key.assign(f"user-{u}", "key-1") for u in range(50)}) == 1
    by_user = experiment(sticky="user")
    assert len({by_user.assign(None, "key-9") for _ in range(50)}) == 1
    anonymous = Counter(by_user.assign(None, None) for _ in range(2000))
    assert set(anonymous) == {"control", "cheap"}  # nobody to stick to: random, at the weights


def test_book_reports_per_arm_statistics_and_feedback() -> None:
    now = [0.0]
    book = ExperimentBook([experiment()], ttl_s=60, max_entries=100, clock=lambda: now[0])
    book.record("r", "control", "mini", ["req-1"], 100.0, 0.002, failed=False)
    book.record("r", "control", "mini", ["req-2"], 300.0, None, failed=False)
    book.record("r", "control", None, ["req-3"], 50.0, None, failed=True)
    book.record("r", "cheap", "nano", ["req-4"], 80.0, 0.0005, failed=False)
    book.alias("chatcmpl-4", "req-4")
    assert book.feedback("req-1", 1.0) is not None
    assert book.feedback("req-2", 0.0) is not None
    assert book.feedback("req-1", 0.5) is not None  # a second score replaces the first
    assert book.feedback("chatcmpl-4", 1.0) is not None
    assert book.feedback("req-3", 1.0) is None  # failed requests are not remembered
    arms = book.report()["experiments"]["r"]["arms"]
    control, cheap = arms["control"], arms["cheap"]
    assert (control["requests"], control["errors"], control["error_rate"]) == (3, 1, 0.3333)
    assert (control["latency_ms_p50"], control["latency_ms_p95"]) == (100.0, 300.0)
    assert (control["cost_usd_total"], control["cost_usd_mean"]) == (0.002, 0.002)
    assert (control["feedback_count"], control["feedback_mean"]) == (2, 0.25)
    assert (cheap["requests"], cheap["feedback_mean"], cheap["deployments"]) == (1, 1.0, {"nano": 1})
    now[0] = 61
    assert book.feedback("req-4", 0.0) is None  # expired
    with pytest.raises(InvalidRequestError, match="finite"):
        book.feedback("req-1", float("nan"))


def test_response_memory_is_bounded() -> None:
    book = ExperimentBook([experiment()], ttl_s=60, max_entries=3)
    for i in range(5):
        book.record("r", "cheap", "nano", [f"id-{i}"], 1.0, None, failed=False)
    assert book.report()["remembered_responses"] == 3
    assert book.feedback("id-0", 1) is None
    assert book.feedback("id-4", 1) is not None
    # Only experiments are remembered: nothing else competes for the memory.
    book.record("other-route", "cheap", "nano", ["id-9"], 1.0, None, failed=False)
    assert book.feedback("id-9", 1) is None


@pytest.fixture
async def gw(sim: Simulator) -> AsyncIterator[Gateway]:
    routes = {"ab": {"strategy": "cost", "targets": ["mini"], "fallbacks": ["sonnet"], "experiment": {
        "arms": {"control": {"targets": ["mini", "opus"]}, "cheap": {"targets": ["nano", "mini"]}},
        "weights": {"control": 50, "cheap": 50}}}}
    async with Gateway(parse_config(config(routes, base_url=sim.base_url), env={})) as gateway:
        yield gateway


async def test_arms_serve_their_own_targets_and_are_reported(gw: Gateway) -> None:
    seen: dict[str, set[str]] = {}
    for u in range(20):
        for _ in range(3):
            response = await gw.chat(ask("ab"), principal=Principal(user=f"user-{u}"))
            assert response.meta is not None
            assert response.meta.routing is not None
            arm = response.meta.routing.arm
            assert arm is not None
            seen.setdefault(f"user-{u}", set()).add(arm)
            # The route's strategy ranks within the arm, and the route's fallbacks follow.
            expected = {"control": ("mini", "opus", "sonnet"), "cheap": ("nano", "mini", "sonnet")}[arm]
            assert response.meta.routing.candidates == expected
            assert response.meta.deployment == expected[0]
            assert gw.router.feedback(response.id, 1.0 if arm == "cheap" else 0.0) is not None
    assert all(len(arms) == 1 for arms in seen.values())
    report = gw.router.book.report()["experiments"]["ab"]["arms"]
    assert report["control"]["requests"] + report["cheap"]["requests"] == 60
    assert report["control"]["requests"] > 0
    assert report["cheap"]["requests"] > 0
    assert report["cheap"]["feedback_mean"] == 1.0
    assert report["control"]["feedback_mean"] == 0.0
    assert report["cheap"]["cost_usd_mean"] < report["control"]["cost_usd_mean"]
    assert report["control"]["targets"] == ["mini", "opus"]
