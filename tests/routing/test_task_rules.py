"""The rules tier on its own: which signals decide, when they defer, and which tasks they may name."""

from __future__ import annotations

import pytest

from switchyard.routing.task_rules import MARGIN, SHORT_WORDS, RuleHit, match_rules

ALL = frozenset(("coding", "creative_writing", "extraction", "reasoning", "math", "chat", "quick_lookup"))


@pytest.mark.parametrize(("text", "task"), [
    ("int main() {\n#include <stdio.h>\n}", "coding"),
    ("  File \"x.py\", line 1\nTypeError: unsupported operand", "coding"),
    ("SELECT name FROM users WHERE id = 1", "coding"),
    ("How do I fix a bug in my React app?", "coding"),
    ("Compute 12.5 / 4 + 3", "math"),
    ("Find the derivative of x^2 + 3x", "math"),
    ("Compose a limerick about a sleepy owl", "creative_writing"),
    ("Please take on the role of a travel agent", "creative_writing"),
    ("Return the products and prices below as JSON.", "extraction"),
    ("good morning :)", "chat"),
    ("When did the Second World War end?", "quick_lookup"),
])
def test_decisive_signals(text: str, task: str) -> None:
    hit = match_rules(text, ALL)
    assert hit is not None
    assert hit.task == task


@pytest.mark.parametrize("text", [
    "What do you think about the future of cities?",
    "Tell me about the history of jazz and why it matters.",
    "Create a fitness program for a beginner runner.",
    "Write a script for a two-minute video about our product.",
])
def test_no_signal_means_no_answer(text: str) -> None:
    assert match_rules(text, ALL) is None


def test_close_signals_for_different_tasks_defer() -> None:
    # creative writing (0.9) and coding (0.95) both fire: closer than MARGIN, so the rules stay out of it.
    assert MARGIN > 0.95 - 0.9
    assert match_rules("Write a song about my Python code: ```print('hi')```", ALL) is None


def test_a_clear_winner_survives_a_weak_rival() -> None:
    # A code fence (0.95) beats "as JSON" extraction (0.8) by more than MARGIN.
    hit = match_rules("Convert this to JSON:\n```\nname = 'x'\n```", ALL)
    assert hit == RuleHit("coding", 0.95)


def test_only_the_allowed_tasks_are_named() -> None:
    assert match_rules("```\nprint(1)\n```", frozenset({"chat", "math"})) is None
    assert match_rules("hello!", frozenset({"coding"})) is None


def test_greetings_and_lookups_must_be_short() -> None:
    lookup = "Who wrote the novel " + "and " * SHORT_WORDS + "?"
    assert match_rules(lookup, ALL) is None
    assert match_rules("hi, could you explain why the sky is blue?", ALL) is None
