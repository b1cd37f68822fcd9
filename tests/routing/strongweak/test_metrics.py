"""Curve, PGR, APGR and CPT on examples small enough to work out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from switchyard.routing.strongweak.metrics import apgr, cpt, routing_curve, summarize

# Four prompts; only the first two are answered better by the strong model.
WEAK = [0.0, 0.0, 1.0, 0.0]
STRONG = [1.0, 1.0, 1.0, 0.0]


def test_oracle_recovers_the_gap_with_the_fewest_strong_calls() -> None:
    # Ranked by true gain: the two gains come first; PGR is 0.5 after one call, 1 after two, flat after.
    summary = summarize([3.0, 2.0, 1.0, 0.0], WEAK, STRONG)
    assert summary.curve.share.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert summary.curve.pgr.tolist() == [0.0, 0.5, 1.0, 1.0, 1.0]
    # Trapezoids: 0.25*(0+0.5)/2 + 0.25*(0.5+1)/2 + 0.25 + 0.25
    assert summary.apgr == pytest.approx(0.75)
    assert summary.cpt50 == pytest.approx(0.25)
    assert summary.cpt80 == pytest.approx(0.25 + 0.25 * 0.3 / 0.5)


def test_reversed_oracle_pays_for_everything_first() -> None:
    summary = summarize([0.0, 1.0, 2.0, 3.0], WEAK, STRONG)
    assert summary.curve.pgr.tolist() == [0.0, 0.0, 0.0, 0.5, 1.0]
    assert summary.apgr == pytest.approx(0.25 * 0.5 / 2 + 0.25 * 1.5 / 2)
    assert summary.cpt50 == pytest.approx(0.75)


def test_curve_ends_at_the_weak_and_strong_models() -> None:
    curve = routing_curve([0.3, 0.9, 0.1, 0.5], WEAK, STRONG)
    assert curve.q_weak == pytest.approx(0.25)
    assert curve.q_strong == pytest.approx(0.75)
    assert curve.quality[0] == pytest.approx(curve.q_weak)
    assert curve.quality[-1] == pytest.approx(curve.q_strong)
    assert curve.at(0.0) == pytest.approx((0.25, 0.0))


def test_a_router_that_cannot_tell_prompts_apart_scores_like_random() -> None:
    # One score for all (always-weak below the threshold, always-strong at it): the only points are 0 % and
    # 100 % strong calls, and the line between them is random routing's expected curve.
    summary = summarize([0.2, 0.2, 0.2, 0.2], WEAK, STRONG)
    assert summary.curve.share.tolist() == [0.0, 1.0]
    assert summary.apgr == pytest.approx(0.5)
    assert summary.cpt50 == pytest.approx(0.5)
    assert summary.cpt80 == pytest.approx(0.8)


def test_ties_are_broken_by_their_expectation() -> None:
    # The first two tie: half a gain per call until both are taken.
    curve = routing_curve([1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    assert curve.share.tolist() == [0.0, 0.5, 1.0]
    assert curve.at(0.25)[1] == pytest.approx(0.5)


def test_random_scores_give_about_half() -> None:
    rng = np.random.default_rng(7)
    weak = (rng.random(20_000) < 0.6).astype(float)
    strong = (rng.random(20_000) < 0.8).astype(float)
    values = [apgr(routing_curve(rng.random(20_000), weak, strong)) for _ in range(5)]
    assert np.mean(values) == pytest.approx(0.5, abs=0.02)


def test_pgr_above_one_when_the_weak_model_sometimes_wins() -> None:
    # Prompt 3: weak right, strong wrong. Sending only prompts 1-2 to the strong model beats all-strong.
    curve = routing_curve([3.0, 2.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0])
    assert curve.pgr.max() == pytest.approx(2.0)
    assert cpt(curve, 1.5) == pytest.approx(0.5)
    assert cpt(curve, 2.5) is None


def test_no_gap_and_bad_shapes_are_errors() -> None:
    with pytest.raises(ValueError, match="no gap"):
        routing_curve([1.0, 2.0], [1.0, 0.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="1-D"):
        routing_curve([1.0], [0.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="NaN"):
        routing_curve([np.nan, 1.0], [0.0, 0.0], [1.0, 1.0])
