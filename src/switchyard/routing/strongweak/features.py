"""What the strong/weak router reads from a prompt: TF-IDF word uni- and bigrams plus a few shape cues.

Everything here is pure Python and numpy and costs well under a millisecond per prompt, so it can run on the
request path. Training (``train.py``) builds its matrices with this very code, so the features a request gets
are the features the model was fitted on.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

__all__ = ["DENSE_FEATURES", "MAX_CHARS", "clip_text", "dense_features", "terms", "tfidf", "tfidf_of_terms"]

MAX_CHARS = 8000
"""Longer prompts are read as their first and last 4,000 characters: that bounds the cost of a huge request,
and the opening (the task) and the end (the actual question) carry what matters for routing."""

SparseVector = tuple[NDArray[np.int64], NDArray[np.float32]]

# Runs of two or more word characters (scikit-learn's default token pattern, without its redundant \b).
_WORD = re.compile(r"\w\w+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_CHOICE = re.compile(r"^\s*\(?[A-Ha-h][.)]\s", re.MULTILINE)
_DIGITS = "0123456789"
_MATH = "=+*/^<>%$"

DENSE_FEATURES = (
    "log_chars",
    "log_words",
    "digit_share",
    "log_numbers",
    "log_lines",
    "choices",
    "questions",
    "math_symbols",
)


def clip_text(text: str) -> str:
    if len(text) <= MAX_CHARS:
        return text
    half = MAX_CHARS // 2
    return f"{text[:half]}\n{text[-half:]}"


def terms(text: str) -> list[str]:
    """Lower-cased words of two or more word characters, then every adjacent pair of them."""
    words = _WORD.findall(text.lower())
    return [*words, *map(" ".join, itertools.pairwise(words))]


def tfidf(text: str, vocabulary: Mapping[str, int], idf: NDArray[np.float32]) -> SparseVector:
    """Sparse L2-normalised TF-IDF vector (indices, values) with sublinear term frequency, 1 + ln(count)."""
    return tfidf_of_terms(terms(text), vocabulary, idf)


def tfidf_of_terms(words: list[str], vocabulary: Mapping[str, int], idf: NDArray[np.float32]) -> SparseVector:
    """:func:`tfidf` of already extracted :func:`terms` (training extracts them once for every fold)."""
    counts = Counter(words)
    # Set intersection and map() run in C; a Python loop over a long prompt's terms costs several times more.
    hits = list(counts.keys() & vocabulary.keys())
    if not hits:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    index = np.fromiter(map(vocabulary.__getitem__, hits), dtype=np.int64, count=len(hits))
    n = np.fromiter(map(counts.__getitem__, hits), dtype=np.float32, count=len(hits))
    # Set order varies between processes; sorting fixes the order of the sums, so scores are reproducible.
    order = np.argsort(index)
    index = index[order]
    # Sublinear term frequency: a word said ten times is not ten times the evidence.
    values = ((1.0 + np.log(n[order])) * idf[index]).astype(np.float32, copy=False)
    values /= np.float32(np.linalg.norm(values))
    return index, values


def dense_features(text: str) -> list[float]:
    """The :data:`DENSE_FEATURES` of a prompt, unscaled; str methods and regexes only, so C-speed."""
    chars = len(text)
    words = len(text.split())
    # One str.count per character is ten passes in C: several times faster than one pass in Python.
    digits = sum(text.count(c) for c in _DIGITS)
    return [
        math.log1p(chars),
        math.log1p(words),
        digits / chars if chars else 0.0,
        math.log1p(len(_NUMBER.findall(text))),
        math.log1p(text.count("\n")),
        1.0 if len(_CHOICE.findall(text)) >= 2 else 0.0,
        math.log1p(text.count("?")),
        math.log1p(sum(text.count(c) for c in _MATH)),
    ]
