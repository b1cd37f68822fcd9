"""The prompt features the router reads: terms, TF-IDF vectors, shape cues."""

from __future__ import annotations

import math

import numpy as np
import pytest

from switchyard.routing.strongweak.features import (
    DENSE_FEATURES,
    MAX_CHARS,
    clip_text,
    dense_features,
    terms,
    tfidf,
)


def test_terms_are_lowercased_words_then_bigrams() -> None:
    assert terms("Solve: 2x + y = 10, a B") == ["solve", "2x", "10", "solve 2x", "2x 10"]
    assert terms("") == []


def test_tfidf_is_unit_length_with_sublinear_counts() -> None:
    vocabulary = {"cat": 0, "sat": 1, "cat sat": 2, "dog": 3}
    idf = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    index, values = tfidf("cat cat cat sat, unknownword", vocabulary, idf)
    # cat: 3 times, weight 1; sat: once, weight 2; "cat sat": once, weight 3; "cat cat" is not in the vocabulary.
    assert index.tolist() == [0, 1, 2]
    raw = np.array([1 + math.log(3), 2.0, 3.0])
    assert values == pytest.approx(raw / np.linalg.norm(raw), rel=1e-6)
    assert values.dtype == np.float32
    empty_index, empty_values = tfidf("nothing known here", vocabulary, idf)
    assert empty_index.size == empty_values.size == 0


def test_dense_features_read_shape_cues() -> None:
    mcq = "Which is prime?\nA. 4\nB. 7\nC. 9\nD. 15\nAnswer:"
    features = dict(zip(DENSE_FEATURES, dense_features(mcq), strict=True))
    assert features["choices"] == 1.0
    assert features["log_numbers"] == pytest.approx(math.log1p(4))
    assert features["log_lines"] == pytest.approx(math.log1p(5))
    assert features["questions"] == pytest.approx(math.log1p(1))
    assert features["digit_share"] == pytest.approx(5 / len(mcq))
    prose = dict(zip(DENSE_FEATURES, dense_features("Write a poem about the sea."), strict=True))
    assert prose["choices"] == prose["digit_share"] == prose["math_symbols"] == 0.0
    assert dense_features("") == [0.0] * len(DENSE_FEATURES)


def test_long_texts_keep_their_head_and_tail() -> None:
    text = "h" * MAX_CHARS + "middle" + "t" * MAX_CHARS
    clipped = clip_text(text)
    assert len(clipped) == MAX_CHARS + 1
    assert clipped.startswith("h")
    assert clipped.endswith("t")
    assert "middle" not in clipped
    assert clip_text("short") == "short"
