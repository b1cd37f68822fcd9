"""Judge scoring: reading a grade from the many ways judges write one, the prompt, and judge failures through a
real gateway (the simulator cannot grade, so its replies carry no score)."""

from __future__ import annotations

import pytest

from switchyard import Gateway
from switchyard.evaluation import judge_answer, parse_eval_item, parse_judge_score
from switchyard.evaluation.judge import JUDGE_RUBRIC, judge_messages
from switchyard.simulator import Simulator


@pytest.mark.parametrize(
    ("reply", "grade"),
    [
        ("Score: 7", 7.0),
        ("The answer is right but verbose.\nScore: 8", 8.0),
        ("**Score:** 9/10", 9.0),
        ("score = 6.5", 6.5),
        ("Rating: [[4]]", 4.0),
        ("I'd give it [[10]].", 10.0),
        ("Overall 3/10 - mostly wrong.", 3.0),
        ('{"score": 5, "reason": "partly right"}', 5.0),
        ("  7 ", 7.0),
        # Judges reason before grading: the last grade is the verdict.
        ("An earlier draft deserved Score: 2, but on reflection\nScore: 6", 6.0),
        ("Grade: 1", 1.0),
    ],
)
def test_grades_are_read_in_every_common_form(reply: str, grade: float) -> None:
    assert parse_judge_score(reply) == grade


@pytest.mark.parametrize(
    "reply",
    ["", "Looks good to me.", "Score: N", "Score: 0", "Score: 11", "Score: 85/100", "The capital has 3 airports."],
)
def test_no_grade_or_out_of_range_is_none(reply: str) -> None:
    assert parse_judge_score(reply) is None


def test_prompt_carries_rubric_question_reference_and_answer() -> None:
    item = parse_eval_item({"id": "j", "prompt": "Capital of Peru?", "expected": ["Lima"], "match": "judge"})
    system, user = judge_messages(item, "It is Lima.")
    assert system.role == "system"
    assert system.text == JUDGE_RUBRIC
    assert "Score: N" in system.text
    assert user.text.index("Capital of Peru?") < user.text.index("Lima") < user.text.index("It is Lima.")
    no_reference = parse_eval_item({"id": "k", "prompt": "Write a haiku.", "match": "judge"})
    assert "REFERENCE" not in judge_messages(no_reference, "Rails hum at night")[1].text


async def test_a_reply_without_a_grade_is_a_billed_judge_failure(gateway: Gateway, sim: Simulator) -> None:
    item = parse_eval_item({"id": "j", "prompt": "Capital of Peru?", "match": "judge"})
    verdict = await judge_answer(gateway, "gpt", item, "Lima")
    assert verdict.score is None
    assert verdict.answered
    assert verdict.error is not None
    assert "no 1-10 score" in verdict.error
    assert verdict.cost_usd is not None
    assert verdict.cost_usd > 0
    assert sim.requests == {"openai:gpt-4o-mini": 1}


async def test_a_failed_judge_call_does_not_raise(gateway: Gateway) -> None:
    item = parse_eval_item({"id": "j", "prompt": "Capital of Peru?", "match": "judge"})
    verdict = await judge_answer(gateway, "dead", item, "Lima")
    assert (verdict.score, verdict.answered, verdict.cost_usd) == (None, False, None)
    assert verdict.error is not None
    assert verdict.error.startswith("UpstreamUnavailableError")
