"""Train the strong/weak router and write the artifact: ``python -m switchyard.routing.strongweak.train``.

Protocol (deterministic; the same command writes the same model):

1. Load the decontaminated data (:mod:`.data`) and set the held-out split aside; nothing below sees it.
2. Cut the training side into K folds (default 5, stratified by dataset, identical prompts together). For every
   candidate in :data:`GRID` fit on K-1 folds and score the remaining one; pick the candidate with the best mean
   pooled APGR over the folds.
3. Fit the chosen candidate on the whole training side. Fit the probability calibration and record the score
   quantiles from the chosen candidate's out-of-fold predictions, which are what unseen prompts look like.
4. Optionally (``--outer-folds K``) repeat 2-3 inside each of K folds of *all* the data and report APGR on each
   outer fold: a nested cross-validation estimate with spread, recorded next to the held-out figures.

Needs scikit-learn (a dev dependency) for the solvers; the artifact it writes needs numpy only.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import sklearn
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression, Ridge

from .data import (
    DATASETS,
    SPLIT_SEED,
    TEST_FRACTION,
    Example,
    assign_folds,
    held_out_digest,
    held_out_mask,
    load_routing_data,
)
from .features import DENSE_FEATURES, dense_features, terms, tfidf_of_terms
from .metrics import summarize
from .model import Kind, StrongWeakRouter, bundled_artifact

__all__ = ["GRID", "Candidate", "Corpus", "cross_validate", "fit", "main", "train"]

MIN_DF = 2
"""A term must occur in two training prompts to enter the vocabulary: a term seen once carries one label."""


@dataclass(frozen=True, slots=True)
class Candidate:
    kind: Kind
    strength: float
    """Ridge: the L2 penalty ``alpha``. Logistic: the inverse penalty ``C``."""

    @property
    def name(self) -> str:
        return f"{self.kind}({'alpha' if self.kind == 'ridge' else 'C'}={self.strength:g})"


GRID: tuple[Candidate, ...] = (
    Candidate("ridge", 3.0),
    Candidate("ridge", 10.0),
    Candidate("ridge", 30.0),
    Candidate("two_logistic", 0.3),
    Candidate("two_logistic", 1.0),
    Candidate("two_logistic", 3.0),
)

FloatArray = NDArray[np.float64]


class Corpus:
    """Prompts with their terms and dense features extracted once, shared by every fold and candidate."""

    def __init__(self, examples: Sequence[Example]) -> None:
        self.examples = examples
        self.terms = [terms(e.prompt) for e in examples]
        self.dense = np.array([dense_features(e.prompt) for e in examples], dtype=np.float64)
        self.weak = np.array([e.weak for e in examples])
        self.strong = np.array([e.strong for e in examples])
        self.dataset = np.array([e.dataset for e in examples])


def fit(corpus: Corpus, rows: NDArray[np.int64], candidate: Candidate) -> StrongWeakRouter:
    """A router fitted on ``corpus`` rows (uncalibrated: its score is a monotone function of its gain)."""
    vocabulary, idf = _vocabulary([corpus.terms[i] for i in rows])
    index = {t: i for i, t in enumerate(vocabulary)}
    mean = corpus.dense[rows].mean(axis=0)
    scale = corpus.dense[rows].std(axis=0)
    scale[scale == 0] = 1.0
    x = sp.hstack([_tfidf_matrix([corpus.terms[i] for i in rows], index, idf), (corpus.dense[rows] - mean) / scale])
    x = sp.csr_matrix(x)
    weak, strong = corpus.weak[rows], corpus.strong[rows]
    if candidate.kind == "ridge":
        ridge = Ridge(alpha=candidate.strength).fit(x, strong - weak)
        coef = np.asarray(ridge.coef_, dtype=np.float64)[:, None]
        bias = np.array([float(ridge.intercept_)])
    else:
        heads = [_soft_logistic(x, target, candidate.strength) for target in (strong, weak)]
        coef = np.stack([c for c, _ in heads], axis=1)
        bias = np.array([b for _, b in heads])
    return StrongWeakRouter(
        kind=candidate.kind,
        vocabulary=vocabulary,
        idf=idf,
        sparse_weights=coef[: len(vocabulary)].astype(np.float32),
        dense_weights=coef[len(vocabulary) :].astype(np.float32),
        dense_mean=mean.astype(np.float32),
        dense_scale=scale.astype(np.float32),
        bias=bias.astype(np.float32),
        calibration=(1.0, 0.0),
        meta={"candidate": candidate.name},
    )


def cross_validate(
    corpus: Corpus, rows: NDArray[np.int64], folds: NDArray[np.int64], candidate: Candidate
) -> tuple[FloatArray, dict[str, list[float]]]:
    """Out-of-fold gains for ``rows`` and the APGR of each fold, pooled and per dataset."""
    gains = np.empty(len(rows))
    apgrs: dict[str, list[float]] = {"pooled": [], **{d: [] for d in DATASETS}}
    for fold in np.unique(folds):
        held = folds == fold
        router = fit(corpus, rows[~held], candidate)
        gains[held] = [router.gain(corpus.examples[i].prompt) for i in rows[held]]
        for name, part in _parts(corpus, rows[held]).items():
            apgrs[name].append(_apgr(gains[held][part], corpus.weak[rows[held]][part], corpus.strong[rows[held]][part]))
    return gains, apgrs


def train(examples: Sequence[Example], *, folds: int = 5, seed: int = SPLIT_SEED, log: bool = True) -> StrongWeakRouter:
    """Select a candidate by K-fold CV over ``examples``, fit it on all of them, calibrate it."""
    corpus = Corpus(examples)
    rows = np.arange(len(examples), dtype=np.int64)
    fold_of = assign_folds(examples, folds, seed=seed)
    results: dict[str, dict[str, Any]] = {}
    best: tuple[float, Candidate, FloatArray] | None = None
    for candidate in GRID:
        started = time.perf_counter()
        gains, apgrs = cross_validate(corpus, rows, fold_of, candidate)
        results[candidate.name] = {name: _mean_std(values) for name, values in apgrs.items()}
        pooled = results[candidate.name]["pooled"][0]
        if log:
            per = "  ".join(f"{name} {m:.3f}±{s:.3f}" for name, (m, s) in results[candidate.name].items())
            print(f"  {candidate.name:<22} {per}  ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        if best is None or pooled > best[0]:
            best = (pooled, candidate, gains)
    assert best is not None
    _, chosen, oof = best
    router = fit(corpus, rows, chosen)
    router.calibration = a, b = _calibration(oof, corpus.strong > corpus.weak)
    router.meta = {
        "candidate": chosen.name,
        "folds": folds,
        "cv": results,
        "score_quantiles": np.percentile(_sigmoid(a * oof + b), np.arange(101)).tolist(),
        "min_df": MIN_DF,
        "dense_features": list(DENSE_FEATURES),
    }
    return router


def nested_cv(examples: Sequence[Example], outer: int, inner: int) -> dict[str, tuple[float, float]]:
    """APGR, mean and standard deviation over ``outer`` folds of all the data, selecting inside each."""
    fold_of = assign_folds(examples, outer, seed=SPLIT_SEED + 100)
    apgrs: dict[str, list[float]] = {"pooled": [], **{d: [] for d in DATASETS}}
    for fold in range(outer):
        test = [e for e, f in zip(examples, fold_of, strict=True) if f == fold]
        router = train([e for e, f in zip(examples, fold_of, strict=True) if f != fold], folds=inner, log=False)
        corpus = Corpus(test)
        gains = np.array([router.gain(e.prompt) for e in test])
        for name, part in _parts(corpus, np.arange(len(test), dtype=np.int64)).items():
            apgrs[name].append(_apgr(gains[part], corpus.weak[part], corpus.strong[part]))
        print(
            f"  outer fold {fold + 1}/{outer}: pooled APGR {apgrs['pooled'][-1]:.3f} ({router.meta['candidate']})",
            file=sys.stderr,
        )
    return {name: _mean_std(values) for name, values in apgrs.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m switchyard.routing.strongweak.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data", type=Path, default=None, help="default: $SWITCHYARD_ROUTING_DATA or ../shared/data/routing"
    )
    parser.add_argument("--out", type=Path, default=None, help=f"default: the bundled {bundled_artifact().name}")
    parser.add_argument("--folds", type=int, default=5, help="CV folds inside the training split (default 5)")
    parser.add_argument("--outer-folds", type=int, default=0, help="also run nested CV over all data (e.g. 5)")
    args = parser.parse_args(argv)

    loaded = load_routing_data(args.data)
    held = held_out_mask(loaded.examples)
    train_set = [e for e, h in zip(loaded.examples, held, strict=True) if not h]
    test_set = [e for e, h in zip(loaded.examples, held, strict=True) if h]
    print(
        f"train {_counts(train_set)}; held out {_counts(test_set)}; dropped as contaminated {loaded.dropped}",
        file=sys.stderr,
    )
    print(f"selecting by {args.folds}-fold CV on the training split (APGR mean±std over folds):", file=sys.stderr)
    router = train(train_set, folds=args.folds)
    meta: dict[str, Any] = {
        **router.meta,
        "split": {"seed": SPLIT_SEED, "test_fraction": TEST_FRACTION, "held_out_digest": held_out_digest(test_set)},
        "train_counts": _counts(train_set),
        "held_out_counts": _counts(test_set),
        "contaminated_dropped": loaded.dropped,
        "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__},
    }
    if args.outer_folds:
        print(
            f"nested CV: {args.outer_folds} outer folds over all data, {args.folds}-fold selection inside:",
            file=sys.stderr,
        )
        meta["nested_cv"] = {
            "outer_folds": args.outer_folds,
            "apgr": nested_cv(loaded.examples, args.outer_folds, args.folds),
        }
    router.meta = meta
    out = args.out or bundled_artifact()
    router.save(out)
    print(f"chose {meta['candidate']}; wrote {out} ({out.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    return 0


def _vocabulary(docs: Sequence[list[str]]) -> tuple[list[str], NDArray[np.float32]]:
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(set(doc))
    vocabulary = sorted(t for t, n in df.items() if n >= MIN_DF)
    counts = np.array([df[t] for t in vocabulary], dtype=np.float64)
    # Smoothed IDF, as if one extra document held every term: no division by zero, no negative weights.
    idf = np.log((1 + len(docs)) / (1 + counts)) + 1
    return vocabulary, idf.astype(np.float32)


def _tfidf_matrix(docs: Sequence[list[str]], index: dict[str, int], idf: NDArray[np.float32]) -> sp.csr_matrix:
    indptr, indices, values = [0], [], []
    for doc in docs:
        cols, vals = tfidf_of_terms(doc, index, idf)
        indices.append(cols)
        values.append(vals)
        indptr.append(indptr[-1] + len(cols))
    return sp.csr_matrix(
        (np.concatenate(values), np.concatenate(indices), np.array(indptr)), shape=(len(docs), len(index))
    )


def _soft_logistic(x: sp.csr_matrix, target: FloatArray, c: float) -> tuple[FloatArray, float]:
    """Logistic regression on a soft target in [0, 1] (MT-Bench's scores): each row counts as a positive with
    weight ``target`` and a negative with weight ``1 - target``, which is exactly the cross-entropy loss."""
    positive, negative = np.flatnonzero(target > 0), np.flatnonzero(target < 1)
    rows = np.concatenate([positive, negative])
    labels = np.concatenate([np.ones(len(positive)), np.zeros(len(negative))])
    weights = np.concatenate([target[positive], 1 - target[negative]])
    # Newton-CG converges in a handful of steps here, over ten times faster than the default L-BFGS.
    model = LogisticRegression(C=c, solver="newton-cg", max_iter=1000).fit(x[rows], labels, sample_weight=weights)
    return np.asarray(model.coef_[0], dtype=np.float64), float(model.intercept_[0])


def _calibration(gains: FloatArray, strong_better: NDArray[np.bool_]) -> tuple[float, float]:
    """Platt scaling: P(strong better | gain) = sigmoid(a * gain + b), fitted without a penalty."""
    model = LogisticRegression(C=1e6, max_iter=1000).fit(gains[:, None], strong_better.astype(int))
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def _sigmoid(x: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _parts(corpus: Corpus, rows: NDArray[np.int64]) -> dict[str, NDArray[np.bool_]]:
    names = corpus.dataset[rows]
    return {"pooled": np.ones(len(rows), dtype=np.bool_), **{d: names == d for d in DATASETS if (names == d).any()}}


def _apgr(gains: FloatArray, weak: FloatArray, strong: FloatArray) -> float:
    try:
        return summarize(gains, weak, strong).apgr
    except ValueError:  # a small fold of MT-Bench where both models score the same on average: no gap
        return math.nan


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan, math.nan
    return float(np.mean(finite)), float(np.std(finite))


def _counts(examples: Sequence[Example]) -> dict[str, int]:
    return dict(Counter(e.dataset for e in examples))


if __name__ == "__main__":
    raise SystemExit(main())
