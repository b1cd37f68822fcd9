"""A second, blind reading of the ``split=eval`` pairs the cache's figures turn on: how many served answers are
actually wrong, when the Quora labels cannot say.

Why it exists: the Quora labels are noisy exactly where a cache operates. Of the eval pairs whose texts are
identical in letters and digits, only about 91 % are labelled duplicate; every "false hit" of the bundled cache's
exact stage is a pair such as ``What is the purpose of life ?`` / ``What is the purpose of life?`` labelled
non-duplicate. Raising the verifier's threshold does not help: the top of any ranking is made of near-identical
pairs, so on calib the stricter thresholds served *more* label-false hits on unseen pairs, not fewer. A false-hit
rate read off these labels therefore has a floor no method can go under, and "≤ 2 %" sits near it.

What it is (``switchyard/data/semantic_adjudication.json``): verdicts on a stratified random sample of eval pairs,
each judged "same" (the cached answer to A correctly and completely answers B) or "different" by an annotator who
saw only the two questions: not the label, not any score, not which sample a pair came from (the samples were
shuffled together). The annotators were language-model agents given one written instruction (recorded in the file),
told to answer "different" when torn. Their verdicts are stricter than Quora's: see :attr:`AdjudicatedFigures.
agreement`. Strata, per axis, with random pairs drawn in each:

- ``cosine``: static-cosine bands from 0.90 to 1, so the baseline's precision is known at every threshold there;
- ``verifier``: bands of the bundled verifier's score below its threshold, and at and above it *every* pair (a
  census): the served set's verdicts are complete, not estimated.

Estimate at threshold ``t`` on one axis: served(t) is counted exactly; correct(t) = Σ over strata of
N(stratum, score ≥ t) times the share judged "same" among the stratum's sampled pairs with score ≥ t (a uniform
sample of a stratum, restricted to a sub-range, is a uniform sample of that sub-range). Its standard error is the usual
stratified one. The sample was drawn for one verifier artifact; with another, its strata no longer match and the
verifier figures here are not reported (the cosine ones still are).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import numpy as np
import orjson
from numpy.typing import NDArray

__all__ = ["AdjudicatedFigures", "Adjudication", "Estimate", "Stratum", "adjudicate"]

Axis = Literal["cosine", "verifier"]
_FILE = "semantic_adjudication.json"
_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class Stratum:
    axis: Axis
    lo: float
    hi: float
    """Pairs with ``lo <= score < hi`` on ``axis``."""
    size: int
    """How many eval pairs it held when the sample was drawn."""
    ids: tuple[int, ...]
    """The sampled pairs (all of them for a census)."""


@dataclass(frozen=True, slots=True)
class Adjudication:
    protocol: str
    instruction: str
    verifier_trained_at: str
    """The ``trained_at`` of the verifier artifact the verifier strata were drawn for."""
    strata: tuple[Stratum, ...]
    same: dict[int, bool]
    """Pair id → judged "same"."""
    reasons: dict[int, str]
    """Why, for the pairs judged "different"."""

    @classmethod
    def bundled(cls) -> Adjudication:
        raw = resources.files("switchyard").joinpath("data", _FILE).read_bytes()
        return cls.parse(orjson.loads(raw))

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> Adjudication:
        strata = tuple(
            Stratum(s["axis"], float(s["lo"]), float(s["hi"]), int(s["size"]), tuple(int(i) for i in s["ids"]))
            for s in doc["strata"]
        )
        verdicts = {int(k): v for k, v in doc["verdicts"].items()}
        missing = {i for s in strata for i in s.ids} - verdicts.keys()
        if missing:
            raise ValueError(f"{len(missing)} sampled pairs have no verdict (e.g. {min(missing)})")
        return cls(
            protocol=doc["protocol"], instruction=doc["instruction"], verifier_trained_at=doc["verifier_trained_at"],
            strata=strata, same={i: v["verdict"] == "same" for i, v in verdicts.items()},
            reasons={i: v["why"] for i, v in verdicts.items() if v.get("why")},
        )


@dataclass(frozen=True, slots=True)
class Estimate:
    threshold: float
    served: int
    correct: float
    """Estimated pairs judged "same" among those served."""
    stderr: float
    """Standard error of ``correct`` (0 where every served pair was judged)."""
    judged: int
    """How many judged pairs the estimate rests on."""

    @property
    def precision(self) -> float:
        return self.correct / self.served if self.served else 1.0

    @property
    def wrong_rate(self) -> float:
        """Served answers judged wrong, as a share of all served."""
        return 1.0 - self.precision if self.served else 0.0

    def wrong_rate_upper(self) -> float:
        """An approximate 95 % upper bound on :attr:`wrong_rate`: the sampling error where strata were sampled,
        and for a census (no sampling error) the Wilson bound, as if the served pairs were a sample of traffic."""
        if not self.served:
            return 0.0
        if self.stderr > 0:
            return min(1.0, self.wrong_rate + 1.96 * self.stderr / self.served)
        n, p, z = self.served, self.wrong_rate, 1.96
        centre = p + z * z / (2 * n)
        spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return min(1.0, (centre + spread) / (1 + z * z / n))


class _Axis:
    """One axis's strata over this run's scores, ready to estimate at any threshold."""

    def __init__(self, strata: list[Stratum], scores: NDArray[np.float64], row: dict[int, int],
                 same: dict[int, bool]) -> None:
        self.lowest = min(s.lo for s in strata)
        self.scores = scores
        self.parts: list[tuple[Stratum, NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]] = []
        for stratum in strata:
            inside = scores[(scores >= stratum.lo) & (scores < stratum.hi)]
            sampled = np.asarray([scores[row[i]] for i in stratum.ids], dtype=np.float64)
            verdicts = np.asarray([same[i] for i in stratum.ids], dtype=np.bool_)
            self.parts.append((stratum, inside, sampled, verdicts))

    def matches(self) -> bool:
        """Every stratum holds the pairs it held when the sample was drawn (same scores, same sizes)."""
        return all(
            len(inside) == stratum.size and bool(np.all((sampled >= stratum.lo - _TOLERANCE)
                                                        & (sampled < stratum.hi + _TOLERANCE)))
            for stratum, inside, sampled, _v in self.parts
        )

    def at(self, threshold: float) -> Estimate:
        if threshold < self.lowest:
            raise ValueError(f"no sample below {self.lowest}")
        correct = variance = 0.0
        judged = 0
        for _stratum, inside, sampled, verdicts in self.parts:
            big_n = int((inside >= threshold).sum())
            keep = sampled >= threshold
            n = int(keep.sum())
            if big_n == 0:
                continue
            if n == 0:
                # Served pairs with none of them judged: counted as wrong, the cautious reading.
                continue
            share = float(verdicts[keep].mean())
            judged += n
            correct += big_n * share
            if n < big_n:
                variance += big_n * big_n * (1 - n / big_n) * share * (1 - share) / max(n - 1, 1)
        served = int((self.scores >= threshold).sum())
        return Estimate(threshold, served, correct, math.sqrt(variance), judged)

    def thresholds(self) -> list[float]:
        """Where the estimate can change: the sampled scores."""
        return sorted({float(x) for _s, _i, sampled, _v in self.parts for x in sampled})


@dataclass(frozen=True)
class AdjudicatedFigures:
    judged: int
    verified: Estimate | None
    """The verified cache at its threshold (exact stage included); ``None`` when the sample was drawn for another
    verifier artifact."""
    cosine_at_same_precision: Estimate | None
    """The cosine threshold serving the most judged-same pairs at a precision at least the verified cache's;
    ``None`` when no cosine threshold is that precise."""
    cosine_most_precise: Estimate
    ratio: float | None
    """Judged-same answers served, verified cache / cosine at the same precision (the hit-rate ratio: both have the
    same denominator)."""
    at_cosine_best: dict[str, float | None]
    """At cosine's best precision: the verified cache's best estimate there, cosine's, and the ratio."""
    agreement: dict[str, int]
    """Judged pairs by Quora label and verdict: how the two readings differ."""
    verifier_curve: list[Estimate]
    cosine_curve: list[Estimate]
    wrong_served: list[dict[str, Any]]
    """Served pairs judged "different", with the reason given."""


def adjudicate(
    adjudication: Adjudication, ids: list[int], labels: NDArray[np.bool_], cosine: NDArray[np.float64],
    verified: NDArray[np.float64], threshold: float, verifier_trained_at: str, *, min_judged: int = 50,
) -> AdjudicatedFigures:
    """The figures by the blind verdicts. ``verified`` is each pair's score as a lookup sees it (exact-stage pairs
    1.0, below the cosine floor 0.0); ``threshold`` the verified cache's. A curve point must rest on at least
    ``min_judged`` judged pairs: a point served by few pairs of which the few judged all happen to be "same" would
    otherwise win every comparison."""
    row = {pair_id: i for i, pair_id in enumerate(ids)}
    absent = [i for s in adjudication.strata for i in s.ids if i not in row]
    if absent:
        raise ValueError(f"{len(absent)} adjudicated pairs are not in this split (e.g. {absent[0]})")
    same = adjudication.same
    cos_axis = _Axis([s for s in adjudication.strata if s.axis == "cosine"], cosine, row, same)
    ver_axis = _Axis([s for s in adjudication.strata if s.axis == "verifier"], verified, row, same)
    usable = verifier_trained_at == adjudication.verifier_trained_at and ver_axis.matches()

    cosine_curve = [cos_axis.at(t) for t in cos_axis.thresholds()]
    cosine_curve = [e for e in cosine_curve if e.judged >= min_judged]
    best_cos = max(cosine_curve, key=lambda e: (e.precision, e.correct))
    operating = ver_axis.at(threshold) if usable else None
    baseline = None
    if operating is not None:
        good = [e for e in cosine_curve if e.precision >= operating.precision]
        baseline = max(good, key=lambda e: e.correct) if good else None
    verifier_curve = [e for e in (ver_axis.at(t) for t in ver_axis.thresholds()) if e.judged >= min_judged] if (
        usable) else []
    there = [e for e in verifier_curve if e.precision >= best_cos.precision]
    verified_there = max(there, key=lambda e: e.correct) if there else None

    agreement = {"label_duplicate_judged_same": 0, "label_duplicate_judged_different": 0,
                 "label_different_judged_same": 0, "label_different_judged_different": 0}
    for pair_id, is_same in same.items():
        if pair_id in row:
            label = "duplicate" if labels[row[pair_id]] else "different"
            agreement[f"label_{label}_judged_{'same' if is_same else 'different'}"] += 1
    wrong = [
        {"id": i, "reason": adjudication.reasons.get(i, ""), "labelled_duplicate": bool(labels[row[i]])}
        for s in adjudication.strata if s.axis == "verifier" for i in s.ids
        if usable and verified[row[i]] >= threshold and not same[i]
    ]
    return AdjudicatedFigures(
        judged=len(same),
        verified=operating,
        cosine_at_same_precision=baseline,
        cosine_most_precise=best_cos,
        ratio=operating.correct / baseline.correct if operating and baseline and baseline.correct else None,
        at_cosine_best={
            "precision": best_cos.precision,
            "verified_correct": verified_there.correct if verified_there else None,
            "cosine_correct": best_cos.correct,
            "ratio": verified_there.correct / best_cos.correct if verified_there and best_cos.correct else None,
        },
        agreement=agreement,
        verifier_curve=verifier_curve,
        cosine_curve=cosine_curve,
        wrong_served=wrong,
    )
