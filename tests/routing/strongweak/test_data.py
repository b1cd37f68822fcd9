"""Loading the labelled routing data: formats, quality definitions, decontamination, the fixed split."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from switchyard.errors import ConfigError
from switchyard.routing.strongweak.data import (
    STRONG_MODEL,
    WEAK_MODEL,
    LoadedData,
    assign_folds,
    held_out_digest,
    held_out_mask,
    load_routing_data,
)

from .synthetic import write_contaminated, write_csv, write_mt_bench


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A miniature copy of the data layout, with one contaminated prompt per dataset."""
    (tmp_path / "mmlu").mkdir()
    write_csv(
        tmp_path / "mmlu" / "mmlu_anatomy.csv",
        [("Which bone?\nA. x\nB. y\nAnswer:", False, True), ("leaked, multi\nline", True, True)],
    )
    write_csv(tmp_path / "mmlu" / "mmlu_virology.csv", [("Which virus?", True, False)])
    write_contaminated(tmp_path / "mmlu" / "contaminated_prompts.jsonl", ["leaked, multi\nline"])
    (tmp_path / "gsm8k").mkdir()
    write_csv(tmp_path / "gsm8k" / "gsm8k_responses.csv", [("2+2?", True, True), ("leaked sum", False, True)])
    write_contaminated(tmp_path / "gsm8k" / "contaminated_prompts.jsonl", ["leaked sum"])
    write_mt_bench(
        tmp_path,
        [(1, "writing", ["Write a poem.", "Shorter."]), (2, "math", ["Solve x.", "leaked second turn"])],
        {
            (1, WEAK_MODEL): (6, 8),
            (1, STRONG_MODEL): (10, 9),
            (2, WEAK_MODEL): (1, 1),
            (2, STRONG_MODEL): (1, 1),
        },
        contaminated=["leaked second turn"],
    )
    return tmp_path


def test_tiny_layout_loads_with_each_quality_definition(tiny: Path) -> None:
    loaded = load_routing_data(tiny)
    assert loaded.dropped == {"mmlu": 1, "gsm8k": 1, "mt_bench": 1}
    by_prompt = {e.prompt: e for e in loaded.examples}
    assert set(by_prompt) == {"Which bone?\nA. x\nB. y\nAnswer:", "Which virus?", "2+2?", "Write a poem."}
    bone = by_prompt["Which bone?\nA. x\nB. y\nAnswer:"]
    assert (bone.dataset, bone.subject, bone.weak, bone.strong) == ("mmlu", "anatomy", 0.0, 1.0)
    assert (by_prompt["Which virus?"].weak, by_prompt["Which virus?"].strong) == (1.0, 0.0)
    poem = by_prompt["Write a poem."]
    # MT-Bench: mean judge score over both turns, over 10.
    assert (poem.dataset, poem.subject) == ("mt_bench", "writing")
    assert poem.weak == pytest.approx(0.7)
    assert poem.strong == pytest.approx(0.95)


def test_missing_directory_and_bad_flags_are_config_errors(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="routing data not found"):
        load_routing_data(tmp_path / "nowhere")
    (tiny / "gsm8k" / "gsm8k_responses.csv").write_text(f"prompt,{WEAK_MODEL},{STRONG_MODEL}\nq,yes,True\n")
    with pytest.raises(ConfigError, match="True or False"):
        load_routing_data(tiny)


def test_data_dir_from_the_environment(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_ROUTING_DATA", str(tiny))
    assert len(load_routing_data().examples) == 4


def _raw_rows(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [row["prompt"] for row in csv.DictReader(fh)]


def _listed(directory: Path) -> set[str]:
    lines = (directory / "contaminated_prompts.jsonl").read_text(encoding="utf-8").splitlines()
    return {json.loads(line)["eval_prompt"] for line in lines if line.strip()}


def test_real_data_drops_exactly_the_contaminated_prompts(real_dir: Path, real_data: LoadedData) -> None:
    for dataset, files in (
        ("mmlu", sorted((real_dir / "mmlu").glob("mmlu_*.csv"))),
        ("gsm8k", [real_dir / "gsm8k" / "gsm8k_responses.csv"]),
    ):
        raw = [p for f in files for p in _raw_rows(f)]
        listed = _listed(real_dir / dataset)
        kept = [e.prompt for e in real_data.examples if e.dataset == dataset]
        assert real_data.dropped[dataset] == sum(p in listed for p in raw) > 0
        assert len(kept) == len(raw) - real_data.dropped[dataset]
        assert not listed.intersection(kept)
    questions = (real_dir / "mt_bench" / "question.jsonl").read_text(encoding="utf-8").splitlines()
    listed = _listed(real_dir / "mt_bench")
    dirty = sum(any(t in listed for t in json.loads(q)["turns"]) for q in questions if q.strip())
    assert real_data.dropped["mt_bench"] == dirty > 0
    assert sum(e.dataset == "mt_bench" for e in real_data.examples) == len(questions) - dirty
    assert all(0.0 <= e.weak <= 1.0 and 0.0 <= e.strong <= 1.0 for e in real_data.examples)


def test_split_is_stratified_and_keeps_duplicates_together(real_data: LoadedData) -> None:
    examples = real_data.examples
    held = held_out_mask(examples)
    for dataset in ("mmlu", "gsm8k", "mt_bench"):
        part = np.array([e.dataset == dataset for e in examples])
        assert held[part].mean() == pytest.approx(0.3, abs=0.02)
    sides: dict[str, set[bool]] = {}
    for e, h in zip(examples, held, strict=True):
        sides.setdefault(e.prompt, set()).add(bool(h))
    assert all(len(s) == 1 for s in sides.values())
    # The split depends on the prompts, not on the order they were read in.
    shuffled = list(reversed(examples))
    assert held_out_mask(shuffled).tolist() == list(reversed(held.tolist()))
    assert held_out_digest([e for e, h in zip(examples, held, strict=True) if h]) == held_out_digest(
        [e for e, h in zip(shuffled, held_out_mask(shuffled), strict=True) if h]
    )


def test_folds_are_balanced_and_differ_from_the_split(real_data: LoadedData) -> None:
    examples = real_data.examples
    folds = assign_folds(examples, 5)
    counts = np.bincount(folds, minlength=5)
    assert counts.min() > 0.18 * len(examples)
    held = held_out_mask(examples)
    # Independent orderings: every fold holds some held-out prompts and some training ones.
    assert all(0.2 < held[folds == f].mean() < 0.4 for f in range(5))
    with pytest.raises(ValueError, match="at least 2"):
        assign_folds(examples, 1)
