"""Is a cached question the same question as the incoming one? The semantic cache's safety stage.

Cosine similarity alone cannot tell: on the Quora pairs no cosine threshold reaches 95 % precision (see
``switchyard eval-cache``). The verifier judges a candidate in two steps:

1. **hard checks** (:func:`.features.hard_mismatch`): different numbers, units, negation, opposites, a substituted
   name or swapped roles rule the candidate out, whatever its score;
2. **a learned score**: gradient-boosted trees over :data:`.features.HAND_FEATURES` (cosine, word and character
   overlap, what differs and how), trained on the calibration split only (:mod:`.train`), giving the
   probability that the two questions are duplicates. It is computed for both orders of the pair and averaged,
   so the verdict does not depend on which question came first.

A candidate is served when its score reaches the threshold of the request's task class (the global one unless
the artifact or the caller sets one for that class). Candidates below ``floor`` cosine are not scored at all:
on the calibration split the verifier accepted none of them.

The trained model ships as ``switchyard/data/semantic_verifier.npz``: flat arrays of tree nodes, evaluated here
with numpy (a few tens of microseconds per candidate), plus the thresholds and a record of how they were chosen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...errors import ConfigError
from .features import HAND_FEATURES, TextInfo, hard_mismatch, pair_features

__all__ = ["BUNDLED_VERIFIER", "Judgement", "TreeEnsemble", "Verifier"]

BUNDLED_VERIFIER = "semantic_verifier.npz"
"""File name of the trained verifier in ``switchyard/data``."""


@dataclass(frozen=True, slots=True)
class Judgement:
    score: float
    """Probability that the questions are the same; 0.0 when vetoed."""
    veto: str | None
    """The hard mismatch that ruled the pair out (``numbers``, ``negation``...), if any."""


@dataclass(frozen=True, slots=True)
class TreeEnsemble:
    """Additive trees in flat arrays: node ``i`` splits on ``feature[i] <= threshold[i]`` towards ``left[i]`` /
    ``right[i]`` (global node numbers) unless it is a leaf, whose ``value`` counts. The log-odds is
    ``baseline + Σ leaf values``."""

    feature: NDArray[np.int32]
    threshold: NDArray[np.float64]
    left: NDArray[np.int32]
    right: NDArray[np.int32]
    value: NDArray[np.float64]
    is_leaf: NDArray[np.bool_]
    roots: NDArray[np.int32]
    baseline: float

    def log_odds(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Log-odds for each row of ``x`` (``(n, n_features)``)."""
        out = np.empty(len(x), dtype=np.float64)
        for start in range(0, len(x), 2048):  # bounds the (rows x trees) working arrays
            rows = x[start : start + 2048]
            node = np.broadcast_to(self.roots, (len(rows), len(self.roots))).copy()
            index = np.arange(len(rows))[:, None]
            while True:
                inner = ~self.is_leaf[node]
                if not inner.any():
                    break
                go_left = rows[index, self.feature[node]] <= self.threshold[node]
                node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
            out[start : start + len(rows)] = self.baseline + self.value[node].sum(axis=1)
        return out


def _sigmoid(z: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-z))
    return out


@dataclass(frozen=True)
class Verifier:
    """Scores candidate pairs and holds the operating thresholds (see the module docstring)."""

    model: TreeEnsemble
    threshold: float
    """Score needed to serve, unless the task class has its own."""
    floor: float
    """Cosine below which a candidate is not scored (never served)."""
    task_thresholds: Mapping[str, float] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)
    """How the model was trained and the thresholds chosen (protocol, calibration figures)."""

    def threshold_for(self, task: str | None) -> float:
        if task is None:
            return self.threshold
        return self.task_thresholds.get(task, self.threshold)

    def with_thresholds(
        self, threshold: float | None = None, task_thresholds: Mapping[str, float] | None = None
    ) -> Verifier:
        """A copy operating at other thresholds (e.g. stricter for a route), the model unchanged."""
        return replace(
            self,
            threshold=self.threshold if threshold is None else threshold,
            task_thresholds=self.task_thresholds if task_thresholds is None else dict(task_thresholds),
        )

    def judge(
        self, cached: TextInfo, query: TextInfo, cached_vector: NDArray[np.float32],
        query_vector: NDArray[np.float32], cosine: float | None = None,
    ) -> Judgement:
        """The verdict on serving ``cached``'s answer to ``query``."""
        veto = hard_mismatch(cached, query)
        if veto is not None:
            return Judgement(0.0, veto)
        if cosine is None:
            cosine = float(cached_vector @ query_vector)
        rows = np.asarray([pair_features(cached, query, cosine), pair_features(query, cached, cosine)])
        return Judgement(float(_sigmoid(self.model.log_odds(rows)).mean()), None)

    def scores(self, cached: Sequence[TextInfo], queries: Sequence[TextInfo], cosines: NDArray[np.float32]) -> (
        NDArray[np.float64]
    ):
        """Scores of many pairs at once (0.0 where vetoed): the evaluation's path, same verdicts as :meth:`judge`."""
        forward = np.asarray([pair_features(a, b, float(c)) for a, b, c in zip(cached, queries, cosines, strict=True)])
        backward = np.asarray([pair_features(b, a, float(c)) for a, b, c in zip(cached, queries, cosines, strict=True)])
        score = (_sigmoid(self.model.log_odds(forward)) + _sigmoid(self.model.log_odds(backward))) / 2
        vetoed = np.asarray([hard_mismatch(a, b) is not None for a, b in zip(cached, queries, strict=True)])
        score[vetoed] = 0.0
        return score

    def save(self, path: Path) -> None:
        m = self.model
        np.savez_compressed(
            path,
            feature_names=np.asarray(HAND_FEATURES),
            feature=m.feature, threshold=m.threshold, left=m.left, right=m.right, value=m.value,
            is_leaf=m.is_leaf, roots=m.roots, baseline=np.float64(m.baseline),
            serve_threshold=np.float64(self.threshold), floor=np.float64(self.floor),
            task_names=np.asarray(list(self.task_thresholds), dtype=str),
            task_values=np.asarray(list(self.task_thresholds.values()), dtype=np.float64),
            info=np.asarray(json.dumps(self.info, sort_keys=True)),
        )

    @classmethod
    def load(cls, path: Path | str) -> Verifier:
        try:
            with np.load(path, allow_pickle=False) as data:
                names = tuple(str(n) for n in data["feature_names"])
                if names != HAND_FEATURES:
                    raise ConfigError(
                        f"{path}: trained on features {names}, this version computes {HAND_FEATURES}; retrain it "
                        "(python -m switchyard.cache.semantic.train)", key="semantic_cache.verifier",
                    )
                model = TreeEnsemble(
                    feature=data["feature"].astype(np.int32), threshold=data["threshold"].astype(np.float64),
                    left=data["left"].astype(np.int32), right=data["right"].astype(np.int32),
                    value=data["value"].astype(np.float64), is_leaf=data["is_leaf"].astype(np.bool_),
                    roots=data["roots"].astype(np.int32), baseline=float(data["baseline"]),
                )
                tasks = {str(k): float(v) for k, v in zip(data["task_names"], data["task_values"], strict=True)}
                return cls(
                    model=model, threshold=float(data["serve_threshold"]), floor=float(data["floor"]),
                    task_thresholds=tasks, info=json.loads(str(data["info"])),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(f"cannot load the semantic-cache verifier {path}: {exc}") from exc

    @classmethod
    def bundled(cls) -> Verifier:
        """The verifier shipped with Switchyard (trained and calibrated on the Quora calibration split)."""
        return cls.load(Path(str(resources.files("switchyard").joinpath("data", BUNDLED_VERIFIER))))
