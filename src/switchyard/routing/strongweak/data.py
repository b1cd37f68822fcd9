"""Labelled routing data: how well a strong and a weak model answered each prompt, and the fixed split.

The data is RouteLLM's evaluation set (Apache-2.0): GPT-4 (``gpt-4-1106-preview``, strong) and Mixtral
(``Mixtral-8x7B-Instruct-v0.1``, weak) on MMLU, GSM8K and MT-Bench. It is read where it lies, never copied::

    <root>/mmlu/mmlu_<subject>.csv        prompt, <weak> correct, <strong> correct
    <root>/gsm8k/gsm8k_responses.csv      the same columns, plus both models' answers (unused)
    <root>/mt_bench/question.jsonl        question_id, category, turns[2]
    <root>/mt_bench/judgements.jsonl      GPT-4 judge score (1-10) per question, model and turn
    <root>/*/contaminated_prompts.jsonl   prompts also present in RouteLLM's router training data

Quality of a model on a prompt, on [0, 1] everywhere so the datasets pool:

* MMLU, GSM8K: 1 if the model's answer was correct, else 0.
* MT-Bench: RouteLLM's definition — the routing decision is made on the first turn and the chosen model
  answers both, so quality is the mean judge score over both turns, divided by 10.

Contaminated prompts (``eval_prompt`` in each list) are dropped, as RouteLLM does; an MT-Bench question goes
if either of its turns is listed.

The held-out split is fixed by :data:`SPLIT_SEED`: within each dataset the distinct prompts are ordered by
``sha256(seed, prompt)`` and the first :data:`TEST_FRACTION` of them are held out. Identical prompts (MMLU
repeats some across subjects) therefore always land on the same side, the split does not depend on file
order, and it is stratified by dataset. :func:`assign_folds` cuts the training side into K folds the same way.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ...errors import ConfigError

__all__ = [
    "DATASETS",
    "SPLIT_SEED",
    "STRONG_MODEL",
    "TEST_FRACTION",
    "WEAK_MODEL",
    "Dataset",
    "Example",
    "LoadedData",
    "assign_folds",
    "default_data_dir",
    "held_out_digest",
    "held_out_mask",
    "load_routing_data",
]

Dataset = Literal["mmlu", "gsm8k", "mt_bench"]
DATASETS: tuple[Dataset, ...] = ("mmlu", "gsm8k", "mt_bench")
STRONG_MODEL = "gpt-4-1106-preview"
WEAK_MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
SPLIT_SEED = 20240601
TEST_FRACTION = 0.3
ENV_VAR = "SWITCHYARD_ROUTING_DATA"


@dataclass(frozen=True, slots=True)
class Example:
    dataset: Dataset
    prompt: str
    """What the router sees: the prompt, or an MT-Bench question's first turn."""
    weak: float
    strong: float
    subject: str
    """MMLU subject or MT-Bench category (for reports only: a live request carries no such label)."""


@dataclass(frozen=True, slots=True)
class LoadedData:
    examples: tuple[Example, ...]
    dropped: dict[str, int]
    """Contaminated prompts removed, per dataset."""


def default_data_dir() -> Path:
    """``$SWITCHYARD_ROUTING_DATA`` if set, else ``../shared/data/routing`` relative to the working directory."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path.cwd().parent / "shared" / "data" / "routing"


def load_routing_data(root: str | Path | None = None) -> LoadedData:
    """Every decontaminated example under ``root``, in a stable order (dataset, file, row)."""
    base = Path(root) if root is not None else default_data_dir()
    if not base.is_dir():
        raise ConfigError(f"routing data not found at {base} (set {ENV_VAR} or pass --data)", key="data")
    examples: list[Example] = []
    dropped: dict[str, int] = {}
    for dataset, loader in (("mmlu", _load_mmlu), ("gsm8k", _load_gsm8k), ("mt_bench", _load_mt_bench)):
        rows, removed = loader(base)
        examples.extend(rows)
        dropped[dataset] = removed
    return LoadedData(tuple(examples), dropped)


def held_out_mask(
    examples: Sequence[Example], *, seed: int = SPLIT_SEED, fraction: float = TEST_FRACTION
) -> NDArray[np.bool_]:
    """True for the examples of the held-out (test) split; see the module docstring for how it is drawn."""
    rank = _hash_rank(examples, seed)
    return rank < fraction


def assign_folds(examples: Sequence[Example], k: int, *, seed: int = SPLIT_SEED) -> NDArray[np.int64]:
    """A fold index in ``[0, k)`` per example, stratified by dataset, identical prompts in the same fold."""
    if k < 2:
        raise ValueError(f"k must be at least 2, got {k}")
    # A different seed than the split's, or the folds would follow the held-out cut's ordering.
    rank = _hash_rank(examples, seed + 1)
    return np.minimum((rank * k).astype(np.int64), k - 1)


def held_out_digest(examples: Sequence[Example]) -> str:
    """Fingerprint of a set of prompts, so an evaluation can check it scores the split training excluded."""
    digest = hashlib.sha256()
    for key in sorted({f"{e.dataset}\x00{e.prompt}" for e in examples}):
        digest.update(key.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def _hash_rank(examples: Sequence[Example], seed: int) -> NDArray[np.float64]:
    """Each example's position in [0, 1) among its dataset's distinct prompts, ordered by a seeded hash."""
    rank = np.empty(len(examples), dtype=np.float64)
    for dataset in {e.dataset for e in examples}:
        indices = [i for i, e in enumerate(examples) if e.dataset == dataset]
        prompts = sorted({examples[i].prompt for i in indices}, key=lambda p: _digest(seed, p))
        position = {p: n / len(prompts) for n, p in enumerate(prompts)}
        for i in indices:
            rank[i] = position[examples[i].prompt]
    return rank


def _digest(seed: int, prompt: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{prompt}".encode()).digest()


def _contaminated(directory: Path) -> set[str]:
    path = directory / "contaminated_prompts.jsonl"
    if not path.is_file():
        return set()
    return {json.loads(line)["eval_prompt"] for line in _lines(path)}


def _lines(path: Path) -> Iterable[str]:
    with path.open(encoding="utf-8") as fh:
        yield from (line for line in fh if line.strip())


def _correct_rows(dataset: Dataset, files: Sequence[Path], contaminated: set[str]) -> tuple[list[Example], int]:
    examples: list[Example] = []
    removed = 0
    for path in files:
        subject = path.stem.removeprefix("mmlu_") if dataset == "mmlu" else dataset
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                if row["prompt"] in contaminated:
                    removed += 1
                    continue
                examples.append(
                    Example(dataset, row["prompt"], _flag(row[WEAK_MODEL]), _flag(row[STRONG_MODEL]), subject)
                )
    return examples, removed


def _flag(value: str) -> float:
    if value not in ("True", "False"):
        raise ConfigError(f"expected True or False in the correctness column, got {value!r}", key="data")
    return 1.0 if value == "True" else 0.0


def _load_mmlu(root: Path) -> tuple[list[Example], int]:
    directory = root / "mmlu"
    files = sorted(directory.glob("mmlu_*.csv"))
    if not files:
        raise ConfigError(f"no mmlu_*.csv files in {directory}", key="data")
    return _correct_rows("mmlu", files, _contaminated(directory))


def _load_gsm8k(root: Path) -> tuple[list[Example], int]:
    directory = root / "gsm8k"
    path = directory / "gsm8k_responses.csv"
    if not path.is_file():
        raise ConfigError(f"{path} not found", key="data")
    return _correct_rows("gsm8k", [path], _contaminated(directory))


def _load_mt_bench(root: Path) -> tuple[list[Example], int]:
    directory = root / "mt_bench"
    questions = directory / "question.jsonl"
    judgements = directory / "judgements.jsonl"
    if not (questions.is_file() and judgements.is_file()):
        raise ConfigError(f"{directory} needs question.jsonl and judgements.jsonl", key="data")
    scores: dict[tuple[int, str], list[float]] = {}
    for line in _lines(judgements):
        record = json.loads(line)
        scores.setdefault((int(record["question_id"]), record["model"]), []).append(float(record["score"]))
    contaminated = _contaminated(directory)
    examples: list[Example] = []
    removed = 0
    for line in _lines(questions):
        question = json.loads(line)
        turns: list[str] = question["turns"]
        if any(turn in contaminated for turn in turns):
            removed += 1
            continue
        qid = int(question["question_id"])
        weak, strong = scores.get((qid, WEAK_MODEL)), scores.get((qid, STRONG_MODEL))
        if not weak or not strong:
            raise ConfigError(f"MT-Bench question {qid} lacks a judgement for one of the models", key="data")
        examples.append(
            Example(
                "mt_bench", turns[0], sum(weak) / len(weak) / 10, sum(strong) / len(strong) / 10, question["category"]
            )
        )
    return examples, removed
