"""Training on a miniature dataset with a known signal: selection, calibration, determinism, the artifact."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from switchyard.routing.strongweak import StrongWeakRouter
from switchyard.routing.strongweak.data import Example, load_routing_data
from switchyard.routing.strongweak.evaluate import evaluate
from switchyard.routing.strongweak.train import GRID, main, train

from .synthetic import learnable_dataset

HARD = "Question 1001 on integrals: which option holds?\nA. one\nB. two\nAnswer:"
EASY = "Question 1002 on capitals: which option holds?\nA. one\nB. two\nAnswer:"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return learnable_dataset(tmp_path_factory.mktemp("routing"))


@pytest.fixture(scope="module")
def examples(data_dir: Path) -> tuple[Example, ...]:
    return load_routing_data(data_dir).examples


@pytest.fixture(scope="module")
def router(examples: tuple[Example, ...]) -> StrongWeakRouter:
    return train(examples, folds=3, log=False)


def test_training_learns_which_prompts_need_the_strong_model(router: StrongWeakRouter) -> None:
    assert router.score(HARD) > 0.5 > router.score(EASY)
    assert set(router.meta["cv"]) == {c.name for c in GRID}
    assert router.meta["candidate"] in router.meta["cv"]
    a, _ = router.calibration
    assert a > 0, "a larger expected gain must mean a higher probability that the strong model is better"
    quantiles = router.meta["score_quantiles"]
    assert all(x <= y for x, y in itertools.pairwise(quantiles))


def test_training_is_deterministic(router: StrongWeakRouter, examples: tuple[Example, ...], tmp_path: Path) -> None:
    paths = [tmp_path / "a.npz", tmp_path / "b.npz"]
    router.save(paths[0])
    train(examples, folds=3, log=False).save(paths[1])
    with np.load(paths[0]) as first, np.load(paths[1]) as second:
        assert first.files == second.files
        for name in first.files:
            assert np.array_equal(first[name], second[name]), name


def test_main_writes_an_artifact_that_evaluate_accepts(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "router.npz"
    assert main(["--data", str(data_dir), "--out", str(out), "--folds", "3", "--outer-folds", "2"]) == 0
    router = StrongWeakRouter.load(out)
    assert router.meta["nested_cv"]["outer_folds"] == 2
    assert router.meta["held_out_counts"]["mmlu"] + router.meta["train_counts"]["mmlu"] == 40
    report = evaluate(data_dir, artifact=out, draws=20)
    assert report.split_matches is True
    learned, random = report.figures["learned"]["pooled"], report.figures["random"]["pooled"]
    assert learned.apgr > random.apgr
