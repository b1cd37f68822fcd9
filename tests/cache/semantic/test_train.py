"""Training pieces: exported trees predict exactly what scikit-learn does; the threshold rule."""

from __future__ import annotations

import numpy as np
import pytest

from switchyard.cache.semantic.train import choose_threshold, export

sklearn_ensemble = pytest.importorskip("sklearn.ensemble", reason="scikit-learn (a dev dependency) trains the model")


def test_exported_trees_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((600, 5))
    y = (x[:, 0] + 0.5 * x[:, 3] + 0.2 * rng.standard_normal(600)) > 0.8
    model = sklearn_ensemble.HistGradientBoostingClassifier(max_iter=40, max_depth=3, random_state=0).fit(x, y)
    trees = export(model)
    probe = rng.random((300, 5))
    mine = 1 / (1 + np.exp(-trees.log_odds(probe)))
    assert mine == pytest.approx(model.predict_proba(probe)[:, 1], abs=1e-12)


def test_threshold_is_the_lowest_score_meeting_the_false_hit_target() -> None:
    # 100 pairs scored 1.00 down to 0.01: the best 40 are right, the rest wrong, so exactly 40 can be served
    # without a false hit, whatever the resampling.
    scores = np.linspace(1.0, 0.01, 100)
    labels = np.arange(100) < 40
    for confidence in (0.5, 0.9):
        threshold, served, rate = choose_threshold(
            scores, labels, max_false_hits=0.0, min_served=10, confidence=confidence
        )
        assert (threshold, served, rate) == (pytest.approx(scores[39]), 40, 0.0)


def test_ties_are_served_together() -> None:
    scores = np.asarray([0.9] * 10 + [0.8] * 10)
    labels = np.asarray([True] * 10 + [True] * 9 + [False])
    threshold, served, _ = choose_threshold(scores, labels, max_false_hits=0.0, min_served=5)
    assert (threshold, served) == (0.9, 10)


def test_no_threshold_when_nothing_is_precise_enough() -> None:
    scores = np.linspace(1.0, 0.1, 50)
    labels = np.zeros(50, dtype=bool)
    threshold, served, _ = choose_threshold(scores, labels, max_false_hits=0.02, min_served=5)
    assert served == 0
    assert threshold > scores.max()
