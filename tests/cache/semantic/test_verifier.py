"""The bundled verifier: loads, refuses every hand-made hard negative, serves plain rewordings, round-trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from switchyard.cache.semantic.evaluate import hard_negatives
from switchyard.cache.semantic.features import HAND_FEATURES, analyse
from switchyard.cache.semantic.verifier import Verifier
from switchyard.embed import Encoder
from switchyard.errors import ConfigError


@pytest.fixture(scope="module")
def verifier() -> Verifier:
    return Verifier.bundled()


def served(verifier: Verifier, encoder: Encoder, a: str, b: str) -> bool:
    va, vb = encoder.encode_one(a), encoder.encode_one(b)
    cosine = float(va @ vb)
    judgement = verifier.judge(analyse(a), analyse(b), va, vb, cosine)
    return cosine >= verifier.floor and judgement.veto is None and judgement.score >= verifier.threshold


def test_bundled_verifier_records_a_calib_only_protocol(verifier: Verifier) -> None:
    info = verifier.info
    assert "split=calib only" in info["protocol"]
    assert "split=eval never read" in info["protocol"]
    assert 0.5 < verifier.threshold < 1.0
    assert 0.0 < verifier.floor < 1.0
    assert info["features"] == list(HAND_FEATURES)
    assert verifier.model.roots.size == info["trees"]


def test_bundled_verifier_meets_its_calib_target_and_records_how_it_transfers(verifier: Verifier) -> None:
    info = verifier.info
    # The threshold was chosen where the out-of-fold false-hit rate meets the target over enough pairs...
    assert info["calib_oof_served"] >= info["min_served"]
    assert info["calib_oof_false_hit_rate"] <= info["target_false_hit_rate"]
    assert info["target_false_hit_rate"] <= 0.02
    assert 0.0 < info["calib_oof_duplicates_served"] < 0.2
    # ...and the split-half check says what that promise is worth on pairs the threshold never saw: recorded,
    # measured on real halves, and (on these noisy labels) worse than the promise.
    transfer = info["calib_transfer"]
    assert transfer["splits"] >= 2
    assert transfer["unseen_half_served"] > 0
    assert transfer["chosen_half_false_hit_rate"] <= info["target_false_hit_rate"] + 1e-9
    assert transfer["unseen_half_false_hit_rate"] > transfer["chosen_half_false_hit_rate"]


def test_no_hard_negative_is_served(verifier: Verifier, encoder: Encoder) -> None:
    negatives = hard_negatives()
    assert len(negatives) >= 30
    assert {n.kind for n in negatives} >= {"negation", "swapped", "entity", "number", "unit", "date", "opposite"}
    wrongly_served = [(n.a, n.b) for n in negatives if served(verifier, encoder, n.a, n.b)]
    assert wrongly_served == []


def test_hard_negatives_are_what_a_static_threshold_gets_wrong(encoder: Encoder) -> None:
    # The fixture is only meaningful if the pairs look alike to the embedding.
    negatives = hard_negatives()
    cosines = np.einsum("ij,ij->i", encoder.encode([n.a for n in negatives]), encoder.encode([n.b for n in negatives]))
    assert float(np.median(cosines)) > 0.85


REWORDINGS = [
    ("How do I reset my Gmail password?", "How can I reset my Gmail password?"),
    ("How do I learn programming for free?", "How can I learn programming for free?"),
    ("How long does it take for Viagra to work?", "How long will it take for VIAGRA to work?"),
    ("How do I make pancakes?", "How can I make pancakes?"),
]


def test_plain_rewordings_score_far_above_hard_negatives(verifier: Verifier, encoder: Encoder) -> None:
    # The threshold is tight (calibrated for <= 2 % false hits on noisy labels), so not every rewording passes;
    # what must hold is that rewordings are where the verifier's confidence is, and some are served.
    scores = []
    for a, b in REWORDINGS:
        va, vb = encoder.encode_one(a), encoder.encode_one(b)
        scores.append(verifier.judge(analyse(a), analyse(b), va, vb).score)
    assert min(scores) > 0.9
    assert sum(served(verifier, encoder, a, b) for a, b in REWORDINGS) >= 1


def test_the_verdict_does_not_depend_on_the_order_of_the_pair(verifier: Verifier, encoder: Encoder) -> None:
    a, b = "What are the health benefits of green tea?", "What are the benefits of drinking green tea?"
    va, vb = encoder.encode_one(a), encoder.encode_one(b)
    forward = verifier.judge(analyse(a), analyse(b), va, vb)
    backward = verifier.judge(analyse(b), analyse(a), vb, va)
    assert forward.score == pytest.approx(backward.score)


def test_batch_scores_match_single_judgements(verifier: Verifier, encoder: Encoder) -> None:
    pairs = [(n.a, n.b) for n in hard_negatives()[:5]] + [("How do I make pancakes?", "How can I make pancakes?")]
    va = encoder.encode([a for a, _ in pairs])
    vb = encoder.encode([b for _, b in pairs])
    cosines = np.einsum("ij,ij->i", va, vb)
    batch = verifier.scores([analyse(a) for a, _ in pairs], [analyse(b) for _, b in pairs], cosines)
    single = [verifier.judge(analyse(a), analyse(b), x, y, float(c)).score
              for (a, b), x, y, c in zip(pairs, va, vb, cosines, strict=True)]
    assert batch == pytest.approx(single)


def test_task_thresholds_override_the_global_one(verifier: Verifier) -> None:
    strict = verifier.with_thresholds(task_thresholds={"math": 0.99})
    assert strict.threshold_for("math") == 0.99
    assert strict.threshold_for("chat") == verifier.threshold
    assert strict.threshold_for(None) == verifier.threshold


def test_save_and_load_round_trip(verifier: Verifier, tmp_path: Path) -> None:
    path = tmp_path / "v.npz"
    verifier.with_thresholds(task_thresholds={"coding": 0.97}).save(path)
    loaded = Verifier.load(path)
    assert loaded.threshold == verifier.threshold
    assert loaded.task_thresholds == {"coding": 0.97}
    x = np.random.default_rng(0).random((20, len(HAND_FEATURES)))
    assert loaded.model.log_odds(x) == pytest.approx(verifier.model.log_odds(x))


def test_an_artifact_for_other_features_is_refused(verifier: Verifier, tmp_path: Path) -> None:
    path = tmp_path / "old.npz"
    verifier.save(path)
    with np.load(path) as data:
        arrays = dict(data)
    arrays["feature_names"] = np.asarray(["cosine"])
    np.savez(path, **arrays)
    with pytest.raises(ConfigError, match="retrain"):
        Verifier.load(path)
    with pytest.raises(ConfigError, match="cannot load"):
        Verifier.load(tmp_path / "missing.npz")
