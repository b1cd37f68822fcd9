"""Cost/quality curve of a strong/weak router and RouteLLM's summary figures: PGR, APGR, CPT.

A router gives each prompt a score; a threshold sends every prompt scoring at or above it to the strong model.
Sweeping the threshold over all distinct scores traces the curve: for each share of calls sent to the strong
model, the mean quality of the answers the chosen models gave. Then, as in RouteLLM (Ong et al., 2024):

* PGR (performance gap recovered) = (q_router - q_weak) / (q_strong - q_weak), 0 for all-weak, 1 for all-strong;
  it can exceed 1 where the weak model beats the strong one on some prompts.
* APGR = area under PGR over the strong-call share from 0 to 1, by the trapezoidal rule. Random routing
  recovers the gap in proportion to the calls it pays for, so its expected APGR is 0.5.
* CPT(x) = the smallest strong-call share at which PGR reaches x (CPT(0.5) is "50 % of the gap").

Prompts with equal scores cannot be told apart by a threshold, so the curve has a point only where one score
group ends, and is linear in between. That is also the expected curve of breaking the ties at random, so a
router with few distinct scores (a length rule) is neither rewarded nor penalised for its ties. RouteLLM samples
ten quantile thresholds instead; the full sweep is the limit of finer sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Curve", "Summary", "apgr", "cpt", "routing_curve", "summarize"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Curve:
    share: FloatArray
    """Strong-call share at each point, from 0 to 1, non-decreasing."""
    quality: FloatArray
    """Mean quality of the routed answers at each point."""
    q_weak: float
    q_strong: float

    @property
    def pgr(self) -> FloatArray:
        return (self.quality - self.q_weak) / (self.q_strong - self.q_weak)

    def at(self, share: float) -> tuple[float, float]:
        """(quality, PGR) at a strong-call share, interpolated between points."""
        quality = float(np.interp(share, self.share, self.quality))
        return quality, (quality - self.q_weak) / (self.q_strong - self.q_weak)


@dataclass(frozen=True, slots=True)
class Summary:
    apgr: float
    cpt50: float | None
    cpt80: float | None
    curve: Curve


def routing_curve(scores: ArrayLike, weak: ArrayLike, strong: ArrayLike) -> Curve:
    """The curve of routing prompt i to the strong model when ``scores[i]`` is at or above the threshold."""
    s = np.asarray(scores, dtype=np.float64)
    w = np.asarray(weak, dtype=np.float64)
    g = np.asarray(strong, dtype=np.float64) - w
    if not (s.ndim == 1 and s.shape == w.shape == g.shape and s.size > 0):
        raise ValueError("scores, weak and strong must be non-empty 1-D arrays of one length")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    n = s.size
    q_weak = float(w.mean())
    q_strong = q_weak + float(g.mean())
    if np.isclose(q_strong, q_weak):
        raise ValueError("the strong and weak models have the same mean quality: there is no gap to recover")
    order = np.argsort(-s, kind="stable")
    sorted_scores = s[order]
    gain = np.cumsum(g[order])
    # The last index of each group of equal scores: a threshold can only stop there.
    ends = np.flatnonzero(np.r_[sorted_scores[1:] != sorted_scores[:-1], True])
    share = np.r_[0.0, (ends + 1) / n]
    quality = np.r_[q_weak, q_weak + gain[ends] / n]
    return Curve(share, quality, q_weak, q_strong)


def apgr(curve: Curve) -> float:
    """Area under the PGR curve over the strong-call share (trapezoidal rule)."""
    pgr = curve.pgr
    return float(np.sum((pgr[1:] + pgr[:-1]) / 2 * np.diff(curve.share)))


def cpt(curve: Curve, target: float) -> float | None:
    """The smallest strong-call share at which PGR reaches ``target``; None if it never does."""
    pgr = curve.pgr
    reached = np.flatnonzero(pgr >= target)
    if reached.size == 0:
        return None
    i = int(reached[0])
    if i == 0:
        return float(curve.share[0])
    x0, x1, y0, y1 = curve.share[i - 1], curve.share[i], pgr[i - 1], pgr[i]
    return float(x0 + (target - y0) / (y1 - y0) * (x1 - x0))


def summarize(scores: ArrayLike, weak: ArrayLike, strong: ArrayLike) -> Summary:
    curve = routing_curve(scores, weak, strong)
    return Summary(apgr(curve), cpt(curve, 0.5), cpt(curve, 0.8), curve)
