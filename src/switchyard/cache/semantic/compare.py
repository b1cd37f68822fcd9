"""Would a stronger verifier serve more at the same safety? Candidate models compared on the calibration split.

```
python -m switchyard.cache.semantic.compare [--data ../shared/data]
```

The shipped verifier is gradient-boosted trees over hand features (:mod:`.train`). The usual stronger recipe
for pair classification puts a learned head over sentence-embedding interactions — ``u∘v`` and ``|u-v|`` of the
two MiniLM vectors, as in SBERT's classification objective. Each candidate below is scored out of fold (5
stratified folds of ``split=calib``; ``eval`` is never read), pairs failing a hard check or equal once normalised
score 0 as in training, and the table gives each one's best share of duplicates served at a precision or better
(over at least ``--min-served`` pairs: the hindsight best, the same for every candidate):

- ``cosine``: the static threshold; ``cosine+checks``: the same after the hard checks;
- ``trees/hand``: the shipped model;
- ``trees/hand+pca``: the same trees with the first 48 principal components of ``[u∘v, |u-v|]`` as features;
- ``mlp/emb+hand``: a one-hidden-layer network over ``[u∘v, |u-v|]`` and the hand features;
- ``mean``: the average of ``trees/hand`` and ``mlp/emb+hand``.

Measured (2 cores, about 5 minutes): the embedding candidates serve more at 85-90 % precision, and none serves
more than the hand-feature trees from 95 % up, where the verifier operates; see the module's output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...embed import get_encoder
from .dataset import DEFAULT_CACHE_DIR, DEFAULT_DATA_DIR, EmbeddingCache, load_qqp
from .entry import normalise
from .evaluate import best_at_precision
from .features import analyse, hard_mismatch
from .train import FOLDS, PARAMS, _features

__all__ = ["LEVELS", "compare", "main"]

LEVELS = (0.85, 0.90, 0.93, 0.95, 0.96, 0.97)
COMPONENTS = 48


def _trees(x_fit: NDArray[np.float64], y_fit: NDArray[np.bool_], x_fwd: NDArray[np.float64],
           x_bwd: NDArray[np.float64], x_fit_bwd: NDArray[np.float64]) -> NDArray[np.float64]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(**PARAMS).fit(np.vstack([x_fit, x_fit_bwd]), np.r_[y_fit, y_fit])
    out: NDArray[np.float64] = (model.predict_proba(x_fwd)[:, 1] + model.predict_proba(x_bwd)[:, 1]) / 2
    return out


def _mlp(x_fit: NDArray[np.float64], y_fit: NDArray[np.bool_], x_test: NDArray[np.float64]) -> NDArray[np.float64]:
    from sklearn.neural_network import MLPClassifier

    mean, scale = x_fit.mean(axis=0), x_fit.std(axis=0) + 1e-6
    # Settings from a small sweep on calib folds: narrower or less regularised networks were worse at the top.
    model = MLPClassifier(hidden_layer_sizes=(256,), alpha=0.1, early_stopping=True, random_state=0, max_iter=200)
    model.fit((x_fit - mean) / scale, y_fit)
    out: NDArray[np.float64] = model.predict_proba((x_test - mean) / scale)[:, 1]
    return out


def compare(data_dir: Path, *, cache_dir: Path = DEFAULT_CACHE_DIR, min_served: int = 100,
            limit: int | None = None, log: Any = print) -> dict[str, list[float]]:
    """Best out-of-fold share of duplicates served at each of :data:`LEVELS`, per candidate (on the first
    ``limit`` calib pairs if given)."""
    from sklearn.model_selection import StratifiedKFold

    pairs = load_qqp(data_dir, "calib")
    if limit is not None:
        pairs = pairs.head(limit)
    vec_a, vec_b = EmbeddingCache(get_encoder(), cache_dir).pair_vectors(pairs)
    cosine = np.einsum("ij,ij->i", vec_a, vec_b)
    info_a, info_b = [analyse(t) for t in pairs.a], [analyse(t) for t in pairs.b]
    forward, backward = _features(info_a, info_b, cosine)
    vetoed = np.asarray([hard_mismatch(x, y) is not None for x, y in zip(info_a, info_b, strict=True)])
    same = np.asarray([normalise(x) == normalise(y) for x, y in zip(pairs.a, pairs.b, strict=True)])
    labels = pairs.duplicate
    interactions = np.hstack([vec_a * vec_b, np.abs(vec_a - vec_b)]).astype(np.float64)
    # Components from all of calib without labels: the projection a served model would carry.
    centred = interactions - interactions.mean(axis=0)
    components = centred @ np.linalg.svd(centred, full_matrices=False)[2][:COMPONENTS].T
    with_pca = np.hstack([forward, components]), np.hstack([backward, components])
    network_input = np.hstack([interactions, forward])

    oof = {name: np.zeros(len(labels)) for name in ("trees/hand", "trees/hand+pca", "mlp/emb+hand")}
    for k, (fit, test) in enumerate(StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(forward, labels)):
        oof["trees/hand"][test] = _trees(forward[fit], labels[fit], forward[test], backward[test], backward[fit])
        oof["trees/hand+pca"][test] = _trees(
            with_pca[0][fit], labels[fit], with_pca[0][test], with_pca[1][test], with_pca[1][fit]
        )
        oof["mlp/emb+hand"][test] = _mlp(network_input[fit], labels[fit], network_input[test])
        log(f"  fold {k + 1}/{FOLDS} done")
    oof["mean"] = (oof["trees/hand"] + oof["mlp/emb+hand"]) / 2
    for scores in oof.values():
        scores[vetoed | same] = 0.0
    candidates = {"cosine": cosine.astype(np.float64), "cosine+checks": np.where(vetoed, 0.0, cosine), **oof}
    table: dict[str, list[float]] = {}
    for name, scores in candidates.items():
        points = [best_at_precision(scores, labels, level, min_served) for level in LEVELS]
        table[name] = [p.hit_rate if p else 0.0 for p in points]
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--min-served", type=int, default=100)
    args = parser.parse_args(argv)
    table = compare(args.data, cache_dir=args.cache_dir, min_served=args.min_served,
                    log=lambda m: print(m, file=sys.stderr, flush=True))
    print(f"Best out-of-fold share of duplicates served on split=calib (>= {args.min_served} pairs served):")
    print(f"  {'precision >=':<16}" + "".join(f"{level:>8.2f}" for level in LEVELS))
    for name, rates in table.items():
        print(f"  {name:<16}" + "".join(f"{100 * r:>7.1f}%" for r in rates))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
