"""eval-cache's measurements: the curve arithmetic on known data, then a run on a sample of the real pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from switchyard.cache.semantic.evaluate import CacheEvaluation, best_at_precision, evaluate, most_precise
from switchyard.cache.semantic.verifier import Verifier
from switchyard.embed import Encoder


def brute_force_best(scores: np.ndarray, labels: np.ndarray, precision: float, min_served: int) -> float:
    best = 0.0
    for t in np.unique(scores):
        served = scores >= t
        if served.sum() >= min_served and labels[served].mean() >= precision:
            best = max(best, (served & labels).sum() / labels.sum())
    return best


def test_best_at_precision_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    labels = rng.random(400) < 0.4
    scores = np.round(np.where(labels, rng.random(400) + 0.3, rng.random(400)), 2)
    for precision in (0.6, 0.8, 0.9, 0.95):
        point = best_at_precision(scores, labels, precision, min_served=10)
        expected = brute_force_best(scores, labels, precision, 10)
        assert (point.hit_rate if point else 0.0) == pytest.approx(expected)
        if point is not None:
            assert point.precision >= precision
            assert point.served >= 10


def test_most_precise_respects_min_served() -> None:
    scores = np.asarray([0.9, 0.8, 0.7, 0.6, 0.5])
    labels = np.asarray([True, False, True, True, True])
    assert most_precise(scores, labels, min_served=1).served == 1
    point = most_precise(scores, labels, min_served=2)
    assert (point.served, point.precision) == (5, 0.8)


@pytest.fixture(scope="module")
def sample(data_dir: Path, encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> CacheEvaluation:
    return evaluate(
        data_dir, encoder=encoder, verifier=Verifier.bundled(), cache_dir=tmp_path_factory.mktemp("emb"),
        limit=150, min_served=5,
    )


@pytest.mark.timeout(300)
def test_sample_run_is_consistent(sample: CacheEvaluation) -> None:
    assert sample.pairs == 150
    assert 0 < sample.duplicates < 150
    assert "split=calib only" in sample.protocol
    assert sample.operating.served == sample.exact_stage.served + sample.by_verifier.served
    hit_rates = [p.hit_rate for p in sample.cosine_curve]
    assert hit_rates == sorted(hit_rates, reverse=True)  # a higher threshold never serves more
    assert sample.hard_negative_pairs >= 30
    assert sample.hard_negative_hits == []
    assert sample.hard_negative_cosine_hits > 0  # a static threshold does serve some of them
    assert sample.paraphrase_pairs == 150
    assert 0.0 <= sample.paraphrase_hit_rate <= 1.0
    levels = [row["precision"] for row in sample.equal_precision]
    assert levels == sorted(levels)
    if sample.baseline is not None:
        assert sample.baseline.precision >= sample.operating.precision
    assert sum(v["pairs"] for v in sample.vetoes.values()) <= sample.pairs
    best = sample.at_cosine_best
    assert best["precision"] == sample.cosine_most_precise.precision
    assert best["cosine_hit_rate"] == sample.cosine_most_precise.hit_rate
    if best["ratio"] is not None:
        assert best["ratio"] == pytest.approx((best["verified_hit_rate"] or 0) / (best["cosine_hit_rate"] or 1))
    assert sample.calib_forecast is not None
    assert "other half" in sample.calib_forecast
