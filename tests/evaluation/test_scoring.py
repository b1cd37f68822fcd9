"""Matching answers against expected ones: normalisation, exact, contains, regex, choice letters, numbers."""

from __future__ import annotations

import pytest

from switchyard.evaluation import EvalItem, extract_choice, extract_number, normalize, parse_eval_item, score_answer


def item(match: str, expected: str | list[str]) -> EvalItem:
    return parse_eval_item({"id": "q", "prompt": "question?", "expected": expected, "match": match})


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("  The Pacific   Ocean. ", "pacific ocean"),
        ("Paris!", "paris"),
        ("It's  a\tYES", "it s yes"),
        ("-27", "-27"),
        ("well-known", "well known"),
        ("3.5", "3.5"),
        ("Done.", "done"),
        ("1,476", "1476"),
        ("Brasília", "brasília"),
    ],
)
def test_normalize(text: str, normal: str) -> None:
    assert normalize(text) == normal


def test_exact_ignores_case_punctuation_and_articles_but_not_content() -> None:
    assert score_answer(item("exact", "Pacific Ocean"), "the pacific ocean.") == 1.0
    assert score_answer(item("exact", "Paris"), "Paris, France") == 0.0
    assert score_answer(item("exact", "-27"), "27") == 0.0
    assert score_answer(item("exact", ["Pacific", "Pacific Ocean"]), "Pacific") == 1.0


def test_contains_needs_whole_words() -> None:
    assert score_answer(item("contains", "Canberra"), "The capital is Canberra, not Sydney.") == 1.0
    assert score_answer(item("contains", "no"), "I know it") == 0.0
    assert score_answer(item("contains", "new york"), "It is New York City.") == 1.0


def test_regex_searches_the_raw_answer() -> None:
    pattern = r"^\s*dana\.lee@example\.org\s*$"
    assert score_answer(item("regex", pattern), " dana.lee@example.org\n") == 1.0
    assert score_answer(item("regex", pattern), "Email: dana.lee@example.org") == 0.0
    assert score_answer(item("regex", r"(?i)\byes\b"), "YES, it is") == 1.0


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("B", "B"),
        ("(C)", "C"),
        ("D. Positive", "D"),
        ("Answer: A", "A"),
        ("The answer is **C**.", "C"),
        ("Option B looks tempting, but the correct answer is (D).", "D"),
        ("I would pick C because it is the only gas plants use.", "C"),
        ("A good question. The answer is B", "B"),
        ("the answer is a bit unclear", None),
        ("A or B, hard to say", None),
        ("No idea", None),
    ],
)
def test_extract_choice(text: str, letter: str | None) -> None:
    assert extract_choice(text) == letter


def test_choice_scores_the_extracted_letter() -> None:
    assert score_answer(item("choice", "c"), "Answer: C") == 1.0
    assert score_answer(item("choice", "C"), "Answer: B") == 0.0


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("18", 18.0),
        ("She makes 9 * 2 = 18 dollars.\nAnswer: $18.", 18.0),
        ("Total: 1,476.00 euros", 1476.0),
        ("It drops to -27 degrees", -27.0),
        ("no digits here", None),
    ],
)
def test_extract_number_takes_the_last_one(text: str, number: float | None) -> None:
    assert extract_number(text) == number


def test_number_match_compares_values() -> None:
    assert score_answer(item("number", "3.5"), "7 / 2 = 3.50") == 1.0
    assert score_answer(item("number", "1,000"), "Answer: 1000") == 1.0
    assert score_answer(item("number", "18"), "Answer: 180") == 0.0
    assert score_answer(item("number", "18"), "I cannot tell") == 0.0


def test_judge_items_are_not_matched() -> None:
    judged = parse_eval_item({"id": "j", "prompt": "Write a haiku.", "match": "judge"})
    with pytest.raises(ValueError, match="judge"):
        score_answer(judged, "an answer")
