"""The blind second reading: the stratified estimator on data whose answers are known, and the bundled sample."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from switchyard.cache.semantic.adjudication import Adjudication, Estimate, adjudicate
from switchyard.cache.semantic.dataset import qqp_path

TRAINED_AT = "2026-01-01T00:00:00Z"


def _doc(strata: list[dict[str, Any]], same: dict[int, bool], trained_at: str = TRAINED_AT) -> dict[str, Any]:
    return {
        "protocol": "test", "instruction": "test", "verifier_trained_at": trained_at, "strata": strata,
        "verdicts": {str(i): {"verdict": "same" if ok else "different", **({} if ok else {"why": "other city"})}
                     for i, ok in same.items()},
    }


def _world() -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
    """400 pairs. Cosine: ids 0-199 in [0.90, 0.95), 200-399 in [0.95, 1.0). Verifier: ids 0-299 below 0.9, ids
    300-399 at 0.95 and above (the served set at threshold 0.95)."""
    ids = list(range(1000, 1400))
    cosine = np.r_[np.linspace(0.90, 0.949, 200), np.linspace(0.95, 0.999, 200)]
    verified = np.r_[np.linspace(0.80, 0.89, 300), np.linspace(0.95, 1.0, 100)]
    labels = np.zeros(400, dtype=bool)
    return ids, cosine, verified, labels


def _strata(ids: list[int]) -> list[dict[str, Any]]:
    return [
        # Every 10th pair of each cosine band sampled: 20 per band.
        {"axis": "cosine", "lo": 0.90, "hi": 0.95, "size": 200, "ids": ids[0:200:10]},
        {"axis": "cosine", "lo": 0.95, "hi": 1.0001, "size": 200, "ids": ids[200:400:10]},
        {"axis": "verifier", "lo": 0.80, "hi": 0.95, "size": 300, "ids": ids[0:300:10]},
        {"axis": "verifier", "lo": 0.95, "hi": 1.0001, "size": 100, "ids": ids[300:400]},  # a census
    ]


def test_a_census_is_counted_exactly_and_a_sample_is_scaled_to_its_stratum() -> None:
    ids, cosine, verified, labels = _world()
    # Judged: every sampled pair "same" except two of the served census and half of the low cosine band's sample.
    same = {i: True for s in _strata(ids) for i in s["ids"]}
    same[ids[311]] = same[ids[321]] = False  # not on the cosine sample's grid
    for i in ids[0:200:20]:
        same[i] = False
    figures = adjudicate(Adjudication.parse(_doc(_strata(ids), same)), ids, labels, cosine, verified, 0.95,
                         TRAINED_AT, min_judged=5)
    operating = figures.verified
    assert operating is not None
    assert (operating.served, operating.correct, operating.stderr, operating.judged) == (100, 98.0, 0.0, 100)
    assert operating.wrong_rate == pytest.approx(0.02)
    # The cosine band [0.90, 0.95): 200 pairs, 10 of its 20 sampled judged wrong → 100 right, with sampling error.
    whole = figures.cosine_curve[0]
    assert whole.threshold == pytest.approx(0.90)
    assert whole.served == 400
    assert whole.correct == pytest.approx(100 + 200)
    assert whole.stderr > 0
    assert [w["id"] for w in figures.wrong_served] == [ids[311], ids[321]]
    assert all(w["reason"] == "other city" for w in figures.wrong_served)


def test_a_threshold_inside_a_stratum_uses_only_the_sampled_pairs_above_it() -> None:
    ids, cosine, verified, labels = _world()
    same = {i: True for s in _strata(ids) for i in s["ids"]}
    for i in ids[300:350]:  # the lower half of the census judged wrong
        same[i] = False
    figures = adjudicate(Adjudication.parse(_doc(_strata(ids), same)), ids, labels, cosine, verified, 0.95,
                         TRAINED_AT, min_judged=5)
    above = next(e for e in figures.verifier_curve if e.threshold >= float(verified[350]))
    assert (above.served, above.correct, above.precision) == (50, 50.0, 1.0)


def test_cosine_is_compared_at_the_verified_precision_and_at_its_own_best() -> None:
    ids, cosine, verified, labels = _world()
    same = {i: True for s in _strata(ids) for i in s["ids"]}
    same[ids[399]] = False  # the census: 99 of 100 right
    for i in ids[200:400:50]:  # every fifth sampled pair of cosine's top band wrong: no 5 judged in a row are right
        same[i] = False
    figures = adjudicate(Adjudication.parse(_doc(_strata(ids), same)), ids, labels, cosine, verified, 0.95,
                         TRAINED_AT, min_judged=5)
    assert figures.cosine_at_same_precision is None  # cosine never reaches 99 %
    assert figures.ratio is None
    # Cosine's best: everything from 0.90 (the low band judged all right, the top band 16 of 20): 360 of 400.
    best = figures.cosine_most_precise
    assert (best.threshold, best.served, best.correct) == (pytest.approx(0.90), 400, pytest.approx(360.0))
    # There, with hindsight, the verified cache serves all 400 too. The four wrong pairs are in its samples as well:
    # two in its low band (28 of 30 sampled right → 280 of 300) and two in its census, with pair 399 (97 of 100).
    assert figures.at_cosine_best == {
        "precision": pytest.approx(0.9), "verified_correct": pytest.approx(377.0),
        "cosine_correct": pytest.approx(360.0), "ratio": pytest.approx(377 / 360),
    }


def test_a_sample_drawn_for_another_verifier_reports_cosine_only() -> None:
    ids, cosine, verified, labels = _world()
    same = {i: True for s in _strata(ids) for i in s["ids"]}
    stale = adjudicate(Adjudication.parse(_doc(_strata(ids), same, trained_at="2025-01-01T00:00:00Z")), ids, labels,
                       cosine, verified, 0.95, TRAINED_AT, min_judged=5)
    assert (stale.verified, stale.verifier_curve, stale.wrong_served) == (None, [], [])
    assert stale.cosine_curve
    # Same artifact name but scores that no longer fall in the recorded strata: not usable either.
    shifted = adjudicate(Adjudication.parse(_doc(_strata(ids), same)), ids, labels, cosine, verified - 0.1, 0.95,
                         TRAINED_AT, min_judged=5)
    assert shifted.verified is None


def test_a_sampled_pair_without_a_verdict_or_outside_the_split_is_an_error() -> None:
    ids, cosine, verified, labels = _world()
    same = {i: True for s in _strata(ids) for i in s["ids"]}
    del same[ids[0]]
    with pytest.raises(ValueError, match="no verdict"):
        Adjudication.parse(_doc(_strata(ids), same))
    same[ids[0]] = True
    with pytest.raises(ValueError, match="not in this split"):
        adjudicate(Adjudication.parse(_doc(_strata(ids), same)), ids[1:], labels[1:], cosine[1:], verified[1:], 0.95,
                   TRAINED_AT)


def test_the_wilson_bound_of_a_census() -> None:
    census = Estimate(threshold=0.9, served=370, correct=369.0, stderr=0.0, judged=370)
    assert census.wrong_rate == pytest.approx(1 / 370)
    assert 0.01 < census.wrong_rate_upper() < 0.02
    assert Estimate(0.9, 0, 0.0, 0.0, 0).wrong_rate_upper() == 0.0


def test_the_bundled_sample_is_complete_and_its_strata_do_not_overlap() -> None:
    adjudication = Adjudication.bundled()
    for axis in ("cosine", "verifier"):
        bands = sorted((s.lo, s.hi) for s in adjudication.strata if s.axis == axis)
        assert all(hi <= next_lo for (_lo, hi), (next_lo, _h) in itertools.pairwise(bands))
    for stratum in adjudication.strata:
        assert len(set(stratum.ids)) == len(stratum.ids) <= stratum.size
    census = max((s for s in adjudication.strata if s.axis == "verifier"), key=lambda s: s.lo)
    assert len(census.ids) == census.size  # the served set is judged whole
    assert len(adjudication.same) >= 2000


def test_the_bundled_sample_names_eval_pairs_only(data_dir: Path) -> None:
    with gzip.open(qqp_path(data_dir), "rb") as handle:
        split = {row["id"]: row["split"] for row in map(orjson.loads, handle)}
    assert {split[i] for i in Adjudication.bundled().same} == {"eval"}
