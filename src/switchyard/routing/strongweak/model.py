"""The trained strong/weak router at run time: numpy only, one artifact file, well under a millisecond a call.

```python
from switchyard.routing.strongweak import StrongWeakRouter

router = StrongWeakRouter.load()              # the artifact bundled in switchyard/data
p = router.score("Prove that there are infinitely many primes.")   # P(the strong model answers better)
use_strong = router.decide(text, threshold=router.threshold_for_share(0.3))   # ~30 % of calls to strong
```

The model is linear over :mod:`.features`. Its raw output estimates the expected quality gain of the strong
model over the weak one on the prompt; a logistic calibration fitted on out-of-fold training predictions turns
that into the probability that the strong model's answer is better. The calibration is monotone, so routing by
the probability or by the gain sends the same prompts to the strong model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ...errors import ConfigError
from .features import DENSE_FEATURES, clip_text, dense_features, tfidf

__all__ = ["ARTIFACT_NAME", "FORMAT", "Kind", "StrongWeakRouter", "bundled_artifact"]

ARTIFACT_NAME = "strongweak_router.npz"
FORMAT = 1
Kind = Literal["ridge", "two_logistic"]
"""``ridge``: one head regressing the quality gain. ``two_logistic``: one head each for P(strong correct) and
P(weak correct); the gain is their difference."""

_ARRAYS = ("vocabulary", "idf", "sparse_weights", "dense_weights", "dense_mean", "dense_scale", "bias", "meta")


def bundled_artifact() -> Path:
    """Where the artifact shipped in the package lives."""
    return Path(str(resources.files("switchyard").joinpath("data", ARTIFACT_NAME)))


class StrongWeakRouter:
    """Scores a prompt by how likely the strong model is to answer it better than the weak one."""

    def __init__(
        self,
        *,
        kind: Kind,
        vocabulary: list[str],
        idf: NDArray[np.float32],
        sparse_weights: NDArray[np.float32],
        dense_weights: NDArray[np.float32],
        dense_mean: NDArray[np.float32],
        dense_scale: NDArray[np.float32],
        bias: NDArray[np.float32],
        calibration: tuple[float, float],
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        heads = 2 if kind == "two_logistic" else 1
        features = len(DENSE_FEATURES)
        if not (
            len(vocabulary) == idf.shape[0] == sparse_weights.shape[0]
            and sparse_weights.shape[1:] == (heads,)
            and dense_weights.shape == (features, heads)
            and dense_mean.shape == dense_scale.shape == (features,)
            and bias.shape == (heads,)
        ):
            raise ConfigError("strong/weak router arrays have inconsistent shapes", key="strongweak")
        self.kind: Kind = kind
        self._vocabulary = {term: i for i, term in enumerate(vocabulary)}
        self._idf = idf
        self._sparse = sparse_weights
        self._dense = dense_weights
        self._mean = dense_mean
        self._scale = dense_scale
        self._bias = bias
        self.calibration = calibration
        """(a, b): the probability is ``sigmoid(a * gain + b)``."""
        self.meta: Mapping[str, Any] = dict(meta or {})

    @classmethod
    def load(cls, path: str | Path | None = None) -> StrongWeakRouter:
        """Read an artifact written by ``train.py`` (default: the one bundled in the package)."""
        source = Path(path) if path is not None else bundled_artifact()
        if not source.is_file():
            raise ConfigError(
                f"no strong/weak router artifact at {source}; build one with "
                "python -m switchyard.routing.strongweak.train",
                key="strongweak",
            )
        with np.load(source, allow_pickle=False) as npz:
            missing = [name for name in _ARRAYS if name not in npz.files]
            if missing:
                raise ConfigError(f"{source}: not a router artifact (no {', '.join(missing)})", key="strongweak")
            arrays = {name: npz[name] for name in _ARRAYS}
        meta = json.loads(arrays["meta"].tobytes().decode())
        if meta.get("format") != FORMAT:
            raise ConfigError(f"{source}: artifact format {meta.get('format')}, expected {FORMAT}", key="strongweak")
        vocabulary = arrays["vocabulary"].tobytes().decode().split("\n")
        a, b = meta["calibration"]
        return cls(
            kind=meta["kind"],
            vocabulary=vocabulary,
            idf=arrays["idf"].astype(np.float32),
            sparse_weights=arrays["sparse_weights"].astype(np.float32),
            dense_weights=arrays["dense_weights"].astype(np.float32),
            dense_mean=arrays["dense_mean"].astype(np.float32),
            dense_scale=arrays["dense_scale"].astype(np.float32),
            bias=arrays["bias"].astype(np.float32),
            calibration=(float(a), float(b)),
            meta=meta,
        )

    def save(self, path: str | Path) -> None:
        """Write the artifact: compressed ``.npz``, no pickles, readable with numpy alone."""
        terms = sorted(self._vocabulary, key=self._vocabulary.__getitem__)
        meta = {**self.meta, "format": FORMAT, "kind": self.kind, "calibration": list(self.calibration)}
        np.savez_compressed(
            path,
            vocabulary=np.frombuffer("\n".join(terms).encode(), dtype=np.uint8),
            idf=self._idf,
            sparse_weights=self._sparse,
            dense_weights=self._dense,
            dense_mean=self._mean,
            dense_scale=self._scale,
            bias=self._bias,
            meta=np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8),
        )

    def gain(self, text: str) -> float:
        """Estimated expected quality gain (on [-1, 1]) of the strong model's answer over the weak one's."""
        text = clip_text(text)
        index, values = tfidf(text, self._vocabulary, self._idf)
        dense = (np.asarray(dense_features(text), dtype=np.float32) - self._mean) / self._scale
        z = values @ self._sparse[index] + dense @ self._dense + self._bias
        if self.kind == "ridge":
            return float(z[0])
        return _sigmoid(float(z[0])) - _sigmoid(float(z[1]))

    def score(self, text: str) -> float:
        """Probability, in [0, 1], that the strong model answers ``text`` better than the weak model."""
        a, b = self.calibration
        return _sigmoid(a * self.gain(text) + b)

    def decide(self, text: str, threshold: float) -> bool:
        """True when ``text`` should go to the strong model: its :meth:`score` is at least ``threshold``."""
        return self.score(text) >= threshold

    def threshold_for_share(self, share: float) -> float:
        """The threshold that sent ``share`` (0-1) of the training prompts to the strong model.

        Traffic unlike the training mix (MMLU, GSM8K, MT-Bench) will split differently; measure and adjust.
        """
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share must be within [0, 1], got {share}")
        if share == 0.0:
            return math.inf
        quantiles: list[float] = self.meta["score_quantiles"]
        # quantiles[i] is the i-th percentile of training scores; sending the top `share` means cutting at 1-share.
        return float(np.interp((1.0 - share) * 100, np.arange(len(quantiles)), quantiles))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)
