"""An eval run end to end: the real gateway against the simulator, several targets (a route and a dead
deployment among them), and what each target's summary says."""

from __future__ import annotations

import asyncio

import pytest

from switchyard import Gateway
from switchyard.errors import ConfigError
from switchyard.evaluation import EvalItem, ItemResult, parse_eval_item, run_eval
from switchyard.simulator import Faults, Latency, Simulator


def arithmetic(n: int) -> list[EvalItem]:
    """Questions the simulator can answer when given an accuracy, with their true answers."""
    return [
        parse_eval_item(
            {
                "id": f"mul-{a}",
                "prompt": f"What is {a} * {a + 7}? Reply with the number only.",
                "expected": str(a * (a + 7)),
                "match": "exact",
                "tags": ["math"],
            }
        )
        for a in range(3, 3 + n)
    ]


async def test_targets_are_measured_side_by_side(gateway: Gateway, sim: Simulator) -> None:
    sim.set_faults("openai:gpt-4o-mini", Faults(accuracy=1.0))
    sim.set_faults("anthropic:claude-sonnet-4-6", Faults(accuracy=0.5))
    sim.set_faults("gemini:gemini-2.0-flash", Faults(accuracy=0.0))
    items = arithmetic(40)
    seen: list[ItemResult] = []
    targets = ["gpt", "claude", "gemini", "dead", "chain"]
    report = await run_eval(gateway, targets, items, concurrency=4, eval_set="arith", on_result=seen.append)

    assert [s.target for s in report.targets] == targets
    assert len(report.items) == len(seen) == 5 * len(items)
    gpt, claude, gemini, dead, chain = report.targets
    for summary in (gpt, claude, gemini, chain):
        assert (summary.n, summary.succeeded, summary.success_rate, summary.scored) == (40, 40, 1.0, 40)
        assert summary.latency_p50_ms is not None
        assert summary.latency_p95_ms is not None
        assert 0 < summary.latency_p50_ms <= summary.latency_p95_ms
        assert summary.input_tokens > 0
        assert summary.output_tokens > 0
    for summary in (gpt, claude, gemini):
        assert summary.cost_usd is not None
        assert summary.cost_usd > 0
        assert summary.cost_per_item_usd == pytest.approx(summary.cost_usd / 40)
    assert (gpt.quality, gemini.quality) == (1.0, 0.0)
    assert claude.quality is not None
    assert 0.25 < claude.quality < 0.75
    # Claude costs more per token than GPT-4o mini in the bundled catalog, for the same answers.
    assert claude.cost_usd is not None
    assert gpt.cost_usd is not None
    assert claude.cost_usd > gpt.cost_usd

    assert (dead.succeeded, dead.success_rate, dead.quality, dead.scored) == (0, 0.0, None, 0)
    assert (dead.latency_p50_ms, dead.cost_usd, dead.input_tokens) == (None, None, 0)
    assert sum(dead.errors.values()) == 40
    assert all(not r.ok and r.error and r.score is None for r in report.items if r.target == "dead")

    # The route skips its dead first target and is answered by "flaky", which has no price: its cost is unknown.
    assert chain.answered_by == {"flaky": 40}
    assert (chain.cost_usd, chain.cost_per_item_usd) == (None, None)

    # Results come back in set order, each target's answers next to each other per item.
    assert [(r.item_id, r.target) for r in report.items[:5]] == [("mul-3", t) for t in targets]
    first = report.items[0]
    assert first.answer == items[0].expected[0]
    assert first.score == 1.0
    assert first.deployment == "gpt"
    assert first.tags == ("math",)


async def test_an_unknown_price_is_reported_unknown_not_zero(gateway: Gateway) -> None:
    report = await run_eval(gateway, ["gpt", "azure-gpt"], arithmetic(3))
    gpt, azure = report.targets
    assert gpt.cost_usd is not None
    assert gpt.cost_usd > 0
    assert azure.succeeded == 3
    assert (azure.cost_usd, azure.cost_per_item_usd) == (None, None)
    assert all(r.cost_usd is None for r in report.items if r.target == "azure-gpt")


async def test_a_flaky_target_success_rate_reflects_its_failures(gateway: Gateway, sim: Simulator) -> None:
    # Every other upstream call fails, deterministically; each request is tried at most twice (one retry).
    sim.set_faults("openai:gpt-flaky", Faults(error_rate=1.0, error_status=500))
    report = await run_eval(gateway, ["flaky", "gpt"], arithmetic(10), concurrency=2)
    flaky, gpt = report.targets
    assert (flaky.succeeded, flaky.success_rate) == (0, 0.0)
    assert flaky.errors
    assert gpt.success_rate == 1.0


async def test_concurrency_bounds_requests_in_flight(gateway: Gateway, sim: Simulator) -> None:
    sim.set_faults("*", Faults(latency=Latency(ms=30)))
    in_flight = peak = 0
    original = gateway.chat

    async def counting_chat(*args: object, **kwargs: object) -> object:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await original(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            in_flight -= 1

    gateway.chat = counting_chat  # type: ignore[method-assign]
    started = asyncio.get_running_loop().time()
    await run_eval(gateway, ["gpt", "claude"], arithmetic(12), concurrency=3)
    assert peak == 3
    # 24 calls of ≥ 30 ms, 3 at a time: at least 8 rounds.
    assert asyncio.get_running_loop().time() - started >= 8 * 0.03


async def test_judge_items_are_graded_by_the_judge_and_its_failures_counted(gateway: Gateway, sim: Simulator) -> None:
    items = [
        parse_eval_item({"id": "haiku", "prompt": "Write a haiku about rail yards.", "match": "judge"}),
        parse_eval_item({"id": "peru", "prompt": "Capital of Peru?", "expected": "Lima", "match": "judge"}),
        *arithmetic(2),
    ]
    # The simulator echoes instead of grading, so every judge call answers without a grade.
    report = await run_eval(gateway, ["gpt"], items, judge="gemini")
    gpt = report.summary("gpt")
    assert (gpt.succeeded, gpt.scored, gpt.judge_failures) == (4, 2, 2)
    assert gpt.judge_cost_usd is not None
    assert gpt.judge_cost_usd > 0
    assert sim.requests["gemini:gemini-2.0-flash"] == 2
    judged = [r for r in report.items if r.item_id in ("haiku", "peru")]
    assert all(r.judged == "ungraded" and r.score is None and r.judge_error for r in judged)

    failed = await run_eval(gateway, ["gpt"], items[:2], judge="dead")
    summary = failed.summary("gpt")
    assert (summary.scored, summary.judge_failures, summary.quality, summary.judge_cost_usd) == (0, 2, None, None)
    assert all(r.judged == "failed" for r in failed.items)


async def test_mistakes_are_refused_before_anything_is_sent(gateway: Gateway, sim: Simulator) -> None:
    judged = [parse_eval_item({"id": "j", "prompt": "Write a poem.", "match": "judge"})]
    with pytest.raises(ConfigError, match=r"targets: unknown model or route 'gtp' \(known: gpt, "):
        await run_eval(gateway, ["gtp"], arithmetic(1))
    with pytest.raises(ConfigError, match="judge: unknown model or route 'nobody'"):
        await run_eval(gateway, ["gpt"], arithmetic(1), judge="nobody")
    with pytest.raises(ConfigError, match="judge: item 'j' is scored by a judge model"):
        await run_eval(gateway, ["gpt"], judged)
    with pytest.raises(ConfigError, match="concurrency: must be at least 1"):
        await run_eval(gateway, ["gpt"], arithmetic(1), concurrency=0)
    with pytest.raises(ConfigError, match="targets: name at least one"):
        await run_eval(gateway, [], arithmetic(1))
    assert sim.requests == {}


async def test_a_target_named_twice_is_evaluated_once(gateway: Gateway) -> None:
    report = await run_eval(gateway, ["gpt", "gpt"], arithmetic(2))
    assert [s.target for s in report.targets] == ["gpt"]
    assert len(report.items) == 2
