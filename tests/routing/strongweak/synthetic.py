"""Writers for a miniature copy of the routing data layout (see ``switchyard.routing.strongweak.data``)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from switchyard.routing.strongweak.data import STRONG_MODEL, WEAK_MODEL


def write_csv(path: Path, rows: Iterable[tuple[str, object, object]]) -> None:
    """Rows of (prompt, weak correct, strong correct); booleans are written as True/False like the real files."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["prompt", WEAK_MODEL, STRONG_MODEL])
        writer.writerows(rows)


def write_jsonl(path: Path, records: Iterable[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def write_contaminated(path: Path, prompts: Sequence[str]) -> None:
    write_jsonl(path, ({"train_prompt": p, "eval_prompt": p, "train_idx": 0, "eval_idx": 0} for p in prompts))


def write_mt_bench(
    root: Path,
    questions: Sequence[tuple[int, str, list[str]]],
    scores: dict[tuple[int, str], tuple[float, float]],
    contaminated: Sequence[str] = (),
) -> None:
    """``scores[(question_id, model)]`` holds the judge's (turn 1, turn 2) scores."""
    directory = root / "mt_bench"
    directory.mkdir(parents=True, exist_ok=True)
    write_jsonl(directory / "question.jsonl", ({"question_id": q, "category": c, "turns": t} for q, c, t in questions))
    write_jsonl(
        directory / "judgements.jsonl",
        (
            {"question_id": q, "model": model, "turn": turn, "score": score}
            for (q, model), pair in scores.items()
            for turn, score in enumerate(pair, start=1)
        ),
    )
    write_contaminated(directory / "contaminated_prompts.jsonl", contaminated)


def learnable_dataset(root: Path, size: int = 40) -> Path:
    """A data directory where prompts about "integrals" need the strong model and the rest do not."""
    (root / "mmlu").mkdir(parents=True)
    (root / "gsm8k").mkdir()
    topics = ["integrals", "poems", "capitals", "colours"]
    mmlu = [
        (
            f"Question {i} on {topics[i % 4]}: which option holds?\nA. one\nB. two\nAnswer:",
            topics[i % 4] != "integrals",
            True,
        )
        for i in range(size)
    ]
    write_csv(root / "mmlu" / "mmlu_mixed.csv", mmlu)
    write_contaminated(root / "mmlu" / "contaminated_prompts.jsonl", [])
    gsm8k = [
        (f"Tom has {i} apples and {topics[i % 4]}. How many?", topics[i % 4] != "integrals", True) for i in range(size)
    ]
    write_csv(root / "gsm8k" / "gsm8k_responses.csv", gsm8k)
    write_contaminated(root / "gsm8k" / "contaminated_prompts.jsonl", [])
    questions = [(q, "writing", [f"Write about {topics[q % 4]} number {q}.", "Again."]) for q in range(size)]
    scores = {
        (q, model): ((3.0, 3.0) if topics[q % 4] == "integrals" and model == WEAK_MODEL else (9.0, 9.0))
        for q in range(size)
        for model in (WEAK_MODEL, STRONG_MODEL)
    }
    write_mt_bench(root, questions, scores)
    return root
