"""Decision counters (bounded) and the ``x-switchyard-route`` explanation."""

from __future__ import annotations

from switchyard import RouteDecision
from switchyard.routing.decisions import DecisionCounts, DecisionLabels, explain


def test_counts_by_route_strategy_task_and_chosen() -> None:
    counts = DecisionCounts()
    coding = RouteDecision(strategy="classify", candidates=("a", "b"), task="coding", classifier="rules")
    for chosen in ("a", "a", "b", None):
        counts.count("smart", coding, chosen)
    counts.count("fast", RouteDecision(strategy="latency", candidates=("a",)), "a")
    snapshot = counts.snapshot()
    assert snapshot[DecisionLabels("smart", "classify", "coding", "a")] == 2
    assert snapshot[DecisionLabels("smart", "classify", "coding", "none")] == 1
    assert snapshot[DecisionLabels("fast", "latency", "", "a")] == 1
    assert counts.total(route="smart") == 4
    assert counts.total(chosen="a") == 3


def test_label_sets_beyond_the_bound_share_one_series() -> None:
    counts = DecisionCounts(max_series=3)
    for i in range(10):
        counts.count(f"route-{i}", RouteDecision(strategy="priority"), "a")
    snapshot = counts.snapshot()
    assert len(snapshot) == 4
    assert snapshot[DecisionLabels("other", "other", "other", "other")] == 7


def test_explain_is_compact_and_leaves_out_what_does_not_apply() -> None:
    classify = RouteDecision(strategy="classify", candidates=("gpt-4o", "claude"), task="coding", classifier="rules",
                             confidence=0.93)
    assert explain(classify, "gpt-4o") == (
        "strategy=classify; task=coding; tier=rules; score=0.93; chosen=gpt-4o; candidates=gpt-4o,claude"
    )
    unknown = RouteDecision(strategy="classify", candidates=("mini",), classifier="none")
    assert explain(unknown, "mini") == "strategy=classify; task=none; tier=none; chosen=mini; candidates=mini"
    ab = RouteDecision(strategy="cost", candidates=("nano", "mini"), arm="cheap", affinity=True)
    assert explain(ab, "mini") == "strategy=cost; arm=cheap; affinity=hit; chosen=mini; candidates=nano,mini"
    assert explain(RouteDecision(strategy="direct", candidates=("gpt",)), None) == "strategy=direct; candidates=gpt"
