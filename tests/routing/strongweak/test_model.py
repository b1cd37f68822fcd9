"""The bundled strong/weak router artifact: loads with numpy alone, scores in bounds, fast, round-trips."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from switchyard.errors import ConfigError
from switchyard.routing.strongweak import StrongWeakRouter
from switchyard.routing.strongweak.model import bundled_artifact

TEXTS = [
    "",
    "hi",
    "What is the capital of France?",
    "Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\nA. 0\nB. 1\nC. 2\nD. 3\nAnswer:",
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many in May. How many in all?",
    "Écris un poème sur la mer. 海について詩を書いてください。 🌊",
    "def f(x):\n    return x ** 2\n# why is this slow?",
    "word " * 50_000,
]


@pytest.fixture(scope="module")
def router() -> StrongWeakRouter:
    return StrongWeakRouter.load()


def test_bundled_artifact_is_small_and_describes_its_training(router: StrongWeakRouter) -> None:
    assert bundled_artifact().stat().st_size < 3_000_000
    assert router.meta["split"]["held_out_digest"]
    assert router.meta["candidate"] in router.meta["cv"]
    assert len(router.meta["score_quantiles"]) == 101


def test_scores_are_probabilities_and_decide_follows_them(router: StrongWeakRouter) -> None:
    for text in TEXTS:
        score = router.score(text)
        assert 0.0 <= score <= 1.0
        assert math.isfinite(router.gain(text))
        assert router.decide(text, score) is True
        assert router.decide(text, math.nextafter(score, 2.0)) is False


def test_threshold_for_share_is_monotone(router: StrongWeakRouter) -> None:
    thresholds = [router.threshold_for_share(s / 10) for s in range(11)]
    assert thresholds[0] == math.inf
    assert all(a >= b for a, b in itertools.pairwise(thresholds))
    assert thresholds[-1] == router.meta["score_quantiles"][0]
    with pytest.raises(ValueError, match="share"):
        router.threshold_for_share(1.5)


def test_save_and_load_round_trip(router: StrongWeakRouter, tmp_path: Path) -> None:
    path = tmp_path / "copy.npz"
    router.save(path)
    copy = StrongWeakRouter.load(path)
    assert copy.kind == router.kind
    assert copy.calibration == router.calibration
    assert [copy.score(t) for t in TEXTS] == [router.score(t) for t in TEXTS]


def test_missing_or_foreign_artifacts_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no strong/weak router artifact"):
        StrongWeakRouter.load(tmp_path / "absent.npz")
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ConfigError, match="not a router artifact"):
        StrongWeakRouter.load(tmp_path / "other.npz")


def test_runs_with_numpy_alone() -> None:
    # The training-only libraries are made unimportable; loading and scoring must not notice.
    code = (
        "import sys\n"
        "sys.modules.update({'sklearn': None, 'scipy': None})\n"
        "from switchyard.routing.strongweak import StrongWeakRouter\n"
        "print(StrongWeakRouter.load().score('Prove that sqrt(2) is irrational.'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert 0.0 <= float(result.stdout) <= 1.0
