"""How safe and how useful the semantic cache is, measured on pairs it was never tuned on.

Each labelled pair ``(a, b)`` of ``split=eval`` is read as "``a`` is cached, ``b`` arrives in the same context".
A method *serves* the pair when it would answer ``b`` with ``a``'s answer. Then:

- **false-hit rate** = wrong answers among served pairs (served non-duplicates / served); precision = 1 - it;
- **hit rate** = duplicates served / all duplicates: the share of genuinely repeated questions the cache answers
  (recall). The share of all pairs served is reported too; at equal precision the two give the same ratio.

Methods: **static cosine** at every threshold (the baseline), and the **verified cache** (the bundled
:class:`~.verifier.Verifier`: hard checks, then the learned score) at its calibrated threshold and along a
sweep. "At equal precision" compares the verified cache's hit rate with the best hit rate any cosine threshold
reaches while being at least as precise, on this same data — the baseline's threshold is picked with hindsight,
the verifier's was fixed on calib. When no cosine threshold is that precise, the ratio there is unbounded; the
finite comparison is then made at the most precise point cosine reaches (both hit rates with hindsight).
Also measured: the hand-made hard negatives (same words, different question:
every one must be refused), the paraphrase pairs (all true matches), and how often pairs whose texts are
identical after normalisation are labelled duplicates — the ceiling any method's precision meets on these labels.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from ...embed import Encoder
from .adjudication import AdjudicatedFigures, Adjudication, adjudicate
from .dataset import DEFAULT_CACHE_DIR, EmbeddingCache, Pairs, load_paraphrases, load_qqp
from .entry import normalise
from .features import analyse, hard_mismatch
from .verifier import Verifier

__all__ = ["CacheEvaluation", "CurvePoint", "HardNegative", "evaluate", "hard_negatives"]

COSINE_SWEEP = tuple(round(0.80 + 0.01 * i, 2) for i in range(20))
SCORE_SWEEP = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98)
PRECISION_LEVELS = (0.80, 0.85, 0.90, 0.93, 0.95, 0.97, 0.98)
ISSUE_COSINE = 0.92
"""The static threshold the issue quotes (precision 0.83 at recall 0.34 on calib)."""


@dataclass(frozen=True, slots=True)
class CurvePoint:
    threshold: float
    served: int
    correct: int
    precision: float
    hit_rate: float
    """Duplicates served / all duplicates."""
    served_share: float
    """Pairs served / all pairs."""

    @property
    def false_hit_rate(self) -> float:
        return 1.0 - self.precision if self.served else 0.0


@dataclass(frozen=True, slots=True)
class HardNegative:
    kind: str
    a: str
    b: str


@dataclass
class CacheEvaluation:
    pairs: int
    duplicates: int
    protocol: str
    calib_forecast: str | None
    """The false-hit rate the artifact's own calib-only transfer check expects on unseen pairs, if recorded."""
    operating: CurvePoint
    """The verified cache at the bundled verifier's threshold: the exact stage (texts equal once normalised)
    and the verifier together, as lookups serve."""
    by_verifier: CurvePoint
    """The part of ``operating`` the verifier decided (pairs whose texts differ once normalised)."""
    exact_stage: CurvePoint
    """The part served by the exact stage."""
    baseline: CurvePoint | None
    """The static cosine threshold with the highest hit rate at precision ≥ ``operating.precision``; ``None``
    when no threshold reaches it (over at least ``min_served`` pairs)."""
    hit_rate_ratio: float | None
    """``operating.hit_rate / baseline.hit_rate``; ``None`` when there is no baseline (no cosine threshold is
    that precise at all)."""
    cosine_most_precise: CurvePoint
    at_cosine_best: dict[str, float | None]
    """At the precision of ``cosine_most_precise``: the verified cache's best hit rate (with hindsight, like
    cosine's), cosine's, and their ratio — the highest precision at which both methods serve anything."""
    cosine_at_issue_threshold: CurvePoint
    guarded_cosine: CurvePoint | None
    """Ablation: cosine plus the hard checks only, best hit rate at precision ≥ ``operating.precision``."""
    cosine_curve: list[CurvePoint]
    verified_curve: list[CurvePoint]
    equal_precision: list[dict[str, float | None]]
    """Per precision level: the best hit rate of each method at that precision or better."""
    hard_negative_pairs: int
    hard_negative_hits: list[dict[str, Any]]
    hard_negative_cosine_hits: int
    """How many hard negatives a static cosine threshold of 0.92 would serve."""
    paraphrase_pairs: int
    paraphrase_hit_rate: float
    paraphrase_cosine_hit_rate: float
    identical_pairs: int
    identical_labelled_duplicate: float
    """Share of the pairs identical in letters and digits (case, spacing and punctuation aside) labelled duplicate:
    the precision even a perfect judge of "same question" would get on them by these labels."""
    vetoes: dict[str, dict[str, int]]
    false_hits: list[dict[str, Any]]
    """Served pairs labelled non-duplicate at the operating point (the first 50), for reading by hand."""
    min_served: int
    adjudicated: AdjudicatedFigures | None = None
    """The same comparison by a blind second reading of a stratified sample (:mod:`.adjudication`), where the
    labels' noise hides what the cache actually serves; ``None`` with ``limit`` (the sample spans the whole split)."""
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("operating", "by_verifier", "exact_stage"):
            out[name]["false_hit_rate"] = getattr(self, name).false_hit_rate
        if self.adjudicated is not None:
            figures = out["adjudicated"]
            for name in ("verified", "cosine_at_same_precision", "cosine_most_precise"):
                estimate = getattr(self.adjudicated, name)
                if estimate is not None:
                    figures[name]["precision"] = estimate.precision
                    figures[name]["wrong_rate_upper"] = estimate.wrong_rate_upper()
        return out


def _bare(text: str) -> str:
    """Letters and digits only, lower-cased: two texts equal by this differ in nothing a reader would call a word."""
    return "".join(c for c in normalise(text) if c.isalnum())


def hard_negatives() -> list[HardNegative]:
    """The bundled hand-made hard negatives (``switchyard/data/semantic_hard_negatives.jsonl``)."""
    text = resources.files("switchyard").joinpath("data", "semantic_hard_negatives.jsonl").read_text("utf-8")
    return [HardNegative(**orjson.loads(line)) for line in text.splitlines() if line.strip()]


def _point(threshold: float, served_mask: NDArray[np.bool_], labels: NDArray[np.bool_]) -> CurvePoint:
    served = int(served_mask.sum())
    correct = int((served_mask & labels).sum())
    return CurvePoint(
        threshold=threshold, served=served, correct=correct, precision=correct / served if served else 1.0,
        hit_rate=correct / max(int(labels.sum()), 1), served_share=served / max(len(labels), 1),
    )


def _cuts(scores: NDArray[np.float64], labels: NDArray[np.bool_]) -> tuple[
    NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]
]:
    """Every threshold worth considering: ``(threshold, served, correct)`` when serving scores ≥ threshold."""
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    correct = np.cumsum(labels[order])
    served = np.arange(1, len(order) + 1)
    last_of_tie = np.r_[ranked[1:] != ranked[:-1], True] & (ranked > 0)
    return ranked[last_of_tie], served[last_of_tie], correct[last_of_tie]


def best_at_precision(
    scores: NDArray[np.float64], labels: NDArray[np.bool_], precision: float, min_served: int
) -> CurvePoint | None:
    """The threshold with the highest hit rate whose served pairs (at least ``min_served``) are at least
    ``precision`` precise, chosen with hindsight on these labels."""
    thresholds, served, correct = _cuts(scores, labels)
    ok = np.flatnonzero((served >= min_served) & (correct >= precision * served - 1e-9))
    if len(ok) == 0:
        return None
    best = ok[np.argmax(correct[ok])]
    return _point(float(thresholds[best]), scores >= thresholds[best], labels)


def most_precise(scores: NDArray[np.float64], labels: NDArray[np.bool_], min_served: int) -> CurvePoint:
    thresholds, served, correct = _cuts(scores, labels)
    ok = np.flatnonzero(served >= min_served)
    if len(ok) == 0:
        return _point(float(thresholds[-1]), scores >= thresholds[-1], labels)
    best = ok[np.argmax(correct[ok] / served[ok])]
    return _point(float(thresholds[best]), scores >= thresholds[best], labels)


def evaluate(
    data_dir: Path,
    *,
    encoder: Encoder,
    verifier: Verifier,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    limit: int | None = None,
    min_served: int = 50,
    progress: Callable[[str], None] | None = None,
) -> CacheEvaluation:
    """Measure the static cosine baseline and the verified cache on ``split=eval`` (its first ``limit`` pairs, and
    the first ``limit`` paraphrase pairs)."""
    say = progress or (lambda _m: None)
    seconds: dict[str, float] = {}
    pairs: Pairs = load_qqp(data_dir, "eval")
    if limit is not None:
        pairs = pairs.head(limit)
    labels = pairs.duplicate
    embeddings = EmbeddingCache(encoder, cache_dir)
    began = time.perf_counter()
    vec_a, vec_b = embeddings.pair_vectors(pairs, progress=lambda d, n: say(f"embedded {d}/{n} eval texts"))
    seconds["embed_eval"] = time.perf_counter() - began
    seconds["embed_eval_computed_texts"] = embeddings.computed
    cosine = np.einsum("ij,ij->i", vec_a, vec_b).astype(np.float64)

    began = time.perf_counter()
    info_a = [analyse(t) for t in pairs.a]
    info_b = [analyse(t) for t in pairs.b]
    # The sweep and the equal-precision table use the verifier's score alone; the operating point also applies
    # the cosine floor below which the cache never scores a candidate, exactly as a lookup does.
    score = verifier.scores(info_a, info_b, cosine.astype(np.float32))
    # Texts equal once normalised are served by the cache's exact stage, before the verifier is asked.
    same_text = np.asarray([normalise(a) == normalise(b) for a, b in zip(pairs.a, pairs.b, strict=True)])
    score[same_text] = 1.0
    floored = np.where(same_text | (cosine >= verifier.floor), score, 0.0)
    reasons = [hard_mismatch(a, b) for a, b in zip(info_a, info_b, strict=True)]
    seconds["score_eval"] = time.perf_counter() - began
    vetoed = np.asarray([r is not None for r in reasons])
    guarded = np.where(vetoed, 0.0, cosine)

    operating = _point(verifier.threshold, floored >= verifier.threshold, labels)
    by_verifier = _point(verifier.threshold, (floored >= verifier.threshold) & ~same_text, labels)
    exact_stage = _point(1.0, same_text, labels)
    baseline = best_at_precision(cosine, labels, operating.precision, min_served)
    ratio = None if baseline is None or baseline.hit_rate == 0 else operating.hit_rate / baseline.hit_rate
    table: list[dict[str, float | None]] = []
    for level in PRECISION_LEVELS:
        v = best_at_precision(score, labels, level, min_served)
        c = best_at_precision(cosine, labels, level, min_served)
        g = best_at_precision(guarded, labels, level, min_served)
        table.append({
            "precision": level,
            "verified_hit_rate": v.hit_rate if v else 0.0,
            "cosine_hit_rate": c.hit_rate if c else 0.0,
            "cosine_threshold": c.threshold if c else None,
            "guarded_cosine_hit_rate": g.hit_rate if g else 0.0,
            "ratio": (v.hit_rate / c.hit_rate) if v and c and c.hit_rate else None,
        })

    cosine_best = most_precise(cosine, labels, min_served)
    verified_there = best_at_precision(score, labels, cosine_best.precision, min_served)
    at_cosine_best: dict[str, float | None] = {
        "precision": cosine_best.precision,
        "verified_hit_rate": verified_there.hit_rate if verified_there else 0.0,
        "cosine_hit_rate": cosine_best.hit_rate,
        "ratio": verified_there.hit_rate / cosine_best.hit_rate if verified_there and cosine_best.hit_rate else None,
    }

    vetoes: dict[str, dict[str, int]] = {}
    for (reason, duplicate), n in Counter(zip(reasons, labels.tolist(), strict=True)).items():
        if reason is not None:
            counts = vetoes.setdefault(reason, {"pairs": 0, "labelled_duplicate": 0})
            counts["pairs"] += n
            counts["labelled_duplicate"] += n if duplicate else 0

    identical = np.asarray([_bare(a) == _bare(b) for a, b in zip(pairs.a, pairs.b, strict=True)])
    wrong = np.flatnonzero((floored >= verifier.threshold) & ~labels)
    false_hits = [
        {"a": pairs.a[i], "b": pairs.b[i], "cosine": float(cosine[i]), "score": float(score[i])} for i in wrong[:50]
    ]

    adjudicated = None
    if limit is None:
        adjudicated = adjudicate(
            Adjudication.bundled(), pairs.ids, labels, cosine, floored, verifier.threshold,
            str(verifier.info.get("trained_at", "")),
        )

    began = time.perf_counter()
    negatives = hard_negatives()
    neg_hits, neg_cosine_hits = _hard_negative_hits(negatives, encoder, verifier)
    paraphrases = load_paraphrases(data_dir)
    if limit is not None:
        paraphrases = paraphrases.head(limit)
    para_a, para_b = embeddings.pair_vectors(paraphrases)
    para_cos = np.einsum("ij,ij->i", para_a, para_b)
    para_score = verifier.scores([analyse(t) for t in paraphrases.a], [analyse(t) for t in paraphrases.b], para_cos)
    para_served = (para_score >= verifier.threshold) & (para_cos >= verifier.floor)
    seconds["hard_negatives_and_paraphrases"] = time.perf_counter() - began

    return CacheEvaluation(
        pairs=len(pairs),
        duplicates=int(labels.sum()),
        protocol=str(verifier.info.get("protocol", "unknown (the verifier carries no record of its training)")),
        calib_forecast=_forecast(verifier),
        operating=operating,
        by_verifier=by_verifier,
        exact_stage=exact_stage,
        baseline=baseline,
        hit_rate_ratio=ratio,
        cosine_most_precise=cosine_best,
        at_cosine_best=at_cosine_best,
        cosine_at_issue_threshold=_point(ISSUE_COSINE, cosine >= ISSUE_COSINE, labels),
        guarded_cosine=best_at_precision(guarded, labels, operating.precision, min_served),
        cosine_curve=[_point(t, cosine >= t, labels) for t in COSINE_SWEEP],
        verified_curve=sorted(
            [_point(t, score >= t, labels) for t in {*SCORE_SWEEP, verifier.threshold}], key=lambda p: p.threshold
        ),
        equal_precision=table,
        hard_negative_pairs=len(negatives),
        hard_negative_hits=neg_hits,
        hard_negative_cosine_hits=neg_cosine_hits,
        paraphrase_pairs=len(paraphrases),
        paraphrase_hit_rate=float(para_served.mean()),
        paraphrase_cosine_hit_rate=float((para_cos >= ISSUE_COSINE).mean()),
        identical_pairs=int(identical.sum()),
        identical_labelled_duplicate=float(labels[identical].mean()) if identical.any() else 0.0,
        vetoes=vetoes,
        false_hits=false_hits,
        min_served=min_served,
        adjudicated=adjudicated,
        seconds={k: round(v, 2) for k, v in seconds.items()},
    )


def _forecast(verifier: Verifier) -> str | None:
    transfer = verifier.info.get("calib_transfer")
    if not isinstance(transfer, dict):
        return None
    return (
        f"thresholds chosen on half of calib at {transfer['chosen_half_false_hit_rate']:.1%} false hits served "
        f"{transfer['unseen_half_false_hit_rate']:.1%} false hits and {transfer['unseen_half_duplicates_served']:.1%} "
        f"of duplicates on the other half ({transfer['splits']} halvings, {transfer['unseen_half_served']} pairs "
        "served; the verifier stage only)"
    )


def _hard_negative_hits(
    negatives: list[HardNegative], encoder: Encoder, verifier: Verifier
) -> tuple[list[dict[str, Any]], int]:
    """The hard negatives the verified cache would serve (with why), and how many cosine ≥ 0.92 would."""
    vec_a = encoder.encode([n.a for n in negatives])
    vec_b = encoder.encode([n.b for n in negatives])
    hits: list[dict[str, Any]] = []
    cosine_hits = 0
    for negative, va, vb in zip(negatives, vec_a, vec_b, strict=True):
        similarity = float(va @ vb)
        cosine_hits += similarity >= ISSUE_COSINE
        judgement = verifier.judge(analyse(negative.a), analyse(negative.b), va, vb, similarity)
        if similarity >= verifier.floor and judgement.veto is None and judgement.score >= verifier.threshold:
            hits.append({**asdict(negative), "cosine": similarity, "score": judgement.score})
    return hits, cosine_hits
