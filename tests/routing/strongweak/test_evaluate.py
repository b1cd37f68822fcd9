"""``switchyard eval-router`` on the real held-out labels with the shipped artifact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from switchyard.cli import main
from switchyard.routing.strongweak.evaluate import EvalReport, evaluate, render

GOAL_APGR = 0.65
"""The acceptance goal for the learned router on held-out data (random routing: 0.5)."""


@pytest.fixture(scope="module")
def report(real_dir: Path) -> EvalReport:
    return evaluate(real_dir)


def test_held_out_split_is_the_one_training_excluded(report: EvalReport) -> None:
    assert report.split_matches is True


def test_learned_router_beats_random_and_length(report: EvalReport) -> None:
    learned, random, length = (report.figures[name] for name in ("learned", "random", "length"))
    pooled = learned["pooled"]
    assert random["pooled"].apgr_std is not None
    assert pooled.apgr > random["pooled"].apgr + 3 * random["pooled"].apgr_std
    assert pooled.apgr > length["pooled"].apgr
    assert pooled.apgr >= GOAL_APGR
    for dataset in ("mmlu", "gsm8k"):
        assert learned[dataset].apgr > random[dataset].apgr
    assert pooled.cpt50 is not None
    assert random["pooled"].cpt50 is not None
    assert pooled.cpt50 < random["pooled"].cpt50


def test_curve_runs_from_weak_to_strong(report: EvalReport) -> None:
    weak, strong = report.models["pooled"]
    curve = report.figures["learned"]["pooled"].curve
    assert curve[0] == (0.0, pytest.approx(weak), pytest.approx(0.0))
    assert curve[-1] == (1.0, pytest.approx(strong), pytest.approx(1.0))
    assert report.latency_ms["n"] == report.counts["pooled"]


def test_text_report_names_every_router(report: EvalReport) -> None:
    text = render(report)
    for label in ("learned", "random (200 draws)", "length (words)", "<10 words → weak", "p99"):
        assert label in text


def test_cli_reproduces_the_numbers(real_dir: Path, report: EvalReport, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval-router", "--data", str(real_dir), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["split"]["matches_artifact"] is True
    for router in ("learned", "random", "length"):
        for part, figures in report.figures[router].items():
            assert printed["routers"][router][part]["apgr"] == pytest.approx(figures.apgr, abs=1e-12)
