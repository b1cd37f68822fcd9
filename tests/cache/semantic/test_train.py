"""Training pieces: exported trees predict exactly what scikit-learn does; the threshold rule."""

from __future__ import annotations

import numpy as np
import pytest

from switchyard.cache.semantic.train import TRANSFER_SPLITS, choose_threshold, export, transfer_check

QUICK = {"max_iter": 30, "learning_rate": 0.1, "max_depth": 3, "random_state": 0}
"""Fewer, larger steps than the shipped settings: the transfer check's arithmetic, not the model, is under test."""

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


def test_transfer_check_measures_the_threshold_on_the_unseen_half() -> None:
    # Feature 0 says "duplicate" above 0.5, but one label in 50 is flipped at random: a threshold chosen on
    # one half for <= 2 % false hits cannot keep that promise on the other, and the check must show it.
    rng = np.random.default_rng(1)
    x = rng.random((1600, 3))
    labels = (x[:, 0] > 0.5) ^ (rng.random(1600) < 0.02)
    excluded = np.zeros(1600, dtype=bool)
    result = transfer_check(x, x, labels, excluded, max_false_hits=0.02, min_served=40, confidence=0.5,
                            params=QUICK, log=lambda _m: None)
    assert result["splits"] == TRANSFER_SPLITS
    assert result["chosen_half_served"] > 0
    assert result["chosen_half_false_hit_rate"] <= 0.02 + 1e-9
    assert result["unseen_half_served"] > 0
    assert result["unseen_half_false_hit_rate"] > result["chosen_half_false_hit_rate"]
    assert 0.0 < result["unseen_half_duplicates_served"] <= 1.0


def test_excluded_pairs_are_never_served_in_the_transfer_check() -> None:
    rng = np.random.default_rng(2)
    x = rng.random((1200, 2))
    labels = x[:, 0] > 0.5
    excluded = np.ones(1200, dtype=bool)
    result = transfer_check(x, x, labels, excluded, max_false_hits=0.02, min_served=20, confidence=0.5,
                            params=QUICK, log=lambda _m: None)
    assert (result["chosen_half_served"], result["unseen_half_served"]) == (0, 0)
