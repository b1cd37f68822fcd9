"""Scoring an answer against an item's expected answers, for every match kind except ``judge`` (see ``judge``).

Each scorer returns 1.0 or 0.0; an item with several expected answers scores 1.0 if any of them matches.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence

from .items import CHOICES, EvalItem

__all__ = ["extract_choice", "extract_number", "normalize", "score_answer"]

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_LETTER = f"[{CHOICES}]"
# Most explicit first: "Answer: (B)", "the answer is B", "correct option is B".
# The letter itself stays case-sensitive: "the answer is a bit unclear" picks nothing.
_CHOICE_STATED = re.compile(rf"\b(?i:answer|option|choice)(?:\s+is)?\s*[:\-]?[\s*(\[]*({_LETTER})\b")
# "B", "B.", "(B)", "B) Paris" — but not the article in "A good question".
_CHOICE_LEADING = re.compile(rf"^\W*({_LETTER})(?:[).:]|$)")
_CHOICE_ANYWHERE = re.compile(rf"\b({_LETTER})\b")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def normalize(text: str) -> str:
    """Case-folded, punctuation and articles (a, an, the) removed, whitespace collapsed — SQuAD's
    normalisation, so "The Pacific Ocean." equals "pacific ocean" — except that numbers keep their sign and
    decimal point ("-27" is not "27", "3.5" is not "35") and lose thousands separators ("1,476" is "1476")."""
    text = _THOUSANDS.sub("", text.casefold())
    kept = [
        c if not unicodedata.category(c).startswith("P") or _numeric_mark(text, i) else " "
        for i, c in enumerate(text)
    ]
    return " ".join(_ARTICLES.sub(" ", "".join(kept)).split())


def _numeric_mark(text: str, i: int) -> bool:
    before = text[i - 1] if i else ""
    after = text[i + 1] if i + 1 < len(text) else ""
    if text[i] == ".":
        return before.isdigit() and after.isdigit()
    return text[i] == "-" and after.isdigit() and not before.isalnum()


def extract_choice(text: str) -> str | None:
    """The letter A-D an answer picks: a stated answer ("Answer: C", "the answer is (C)"), else a leading letter
    ("C. Paris"), else the only letter standing alone anywhere; ``None`` when there is none or several."""
    stated = _CHOICE_STATED.findall(text)
    if stated:
        # Models that reason first state the final answer last.
        return str(stated[-1])
    leading = _CHOICE_LEADING.match(text.strip())
    if leading:
        return leading.group(1)
    letters = set(_CHOICE_ANYWHERE.findall(text))
    return letters.pop() if len(letters) == 1 else None


def extract_number(text: str) -> float | None:
    """The last number in the text (thousands separators allowed), where reasoning answers put the result."""
    found = _NUMBER.findall(text)
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


def _exact(answer: str, expected: Sequence[str]) -> bool:
    said = normalize(answer)
    return any(said == normalize(e) for e in expected)


def _contains(answer: str, expected: Sequence[str]) -> bool:
    said = f" {normalize(answer)} "
    return any(f" {normalize(e)} " in said for e in expected)


def _regex(answer: str, expected: Sequence[str]) -> bool:
    return any(re.search(pattern, answer) is not None for pattern in expected)


def _choice(answer: str, expected: Sequence[str]) -> bool:
    return extract_choice(answer) in expected


def _number(answer: str, expected: Sequence[str]) -> bool:
    said = extract_number(answer)
    if said is None:
        return False
    return any(math.isclose(said, float(e.replace(",", "")), rel_tol=1e-6, abs_tol=1e-9) for e in expected)


_SCORERS: dict[str, Callable[[str, Sequence[str]], bool]] = {
    "exact": _exact,
    "contains": _contains,
    "regex": _regex,
    "choice": _choice,
    "number": _number,
}


def score_answer(item: EvalItem, answer: str) -> float:
    """1.0 if ``answer`` matches the item's expected answer, else 0.0. Judge items are scored by a model."""
    scorer = _SCORERS.get(item.match)
    if scorer is None:
        raise ValueError(f"item {item.id!r} is scored by a judge model, not by matching")
    return 1.0 if scorer(answer, item.expected) else 0.0
