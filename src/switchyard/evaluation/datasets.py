"""Eval sets by name: ``builtin`` (the bundled example), ``gsm8k`` (from the shared routing data) or a JSONL path.

The shared routing data (RouteLLM's, under ``<data>/routing``) holds, per prompt, whether two models answered
correctly — not the answer key. MMLU therefore cannot become an eval set: its CSVs carry the question and
options but no correct letter. GSM8K can, because it also keeps each model's response: a response marked correct
contains the right number. The expected answer is taken from Mixtral's ``#### N`` line when Mixtral was marked
correct, and kept only if GPT-4's last number (when GPT-4 was marked correct too) agrees; prompts where only
GPT-4 was right are left out, because "the last number of free text" is too loose to trust unchecked. Prompts
listed in ``contaminated_prompts.jsonl`` are dropped, as the data's README asks.
"""

from __future__ import annotations

import csv
import math
import re
from importlib import resources
from pathlib import Path

import orjson

from ..errors import ConfigError
from ..types import Message
from .items import EvalItem, load_eval_set, parse_eval_lines
from .scoring import extract_number

__all__ = ["DEFAULT_DATA_DIR", "builtin_items", "gsm8k_items", "load_named_set"]

DEFAULT_DATA_DIR = Path("../shared/data")
"""Where the shared data sits relative to the project root."""

_WEAK, _STRONG = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"
_FINAL = re.compile(r"####\s*\$?\s*(-?[\d,]*\.?\d+)")
GSM8K_INSTRUCTION = "\n\nSolve the problem. End your reply with a line of the form 'Answer: <number>'."


def builtin_items() -> list[EvalItem]:
    """The bundled example set (``switchyard/data/eval_example.jsonl``)."""
    text = (resources.files("switchyard") / "data" / "eval_example.jsonl").read_text(encoding="utf-8")
    return parse_eval_lines(text.splitlines(), "builtin")


def gsm8k_items(data_dir: Path = DEFAULT_DATA_DIR) -> list[EvalItem]:
    """GSM8K questions with the answers the shared data vouches for (see the module docstring), scored by
    ``number`` match."""
    folder = data_dir / "routing" / "gsm8k"
    responses = folder / "gsm8k_responses.csv"
    try:
        with responses.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        contaminated = {
            orjson.loads(line)["eval_prompt"]
            for line in (folder / "contaminated_prompts.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()
        }
    except OSError as exc:
        raise ConfigError(f"cannot read the GSM8K data in {folder}: {exc.strerror} (set --data)") from exc
    items: list[EvalItem] = []
    for index, row in enumerate(rows):
        answer = _vouched_answer(row)
        if answer is None or row["prompt"] in contaminated:
            continue
        items.append(
            EvalItem(
                id=f"gsm8k-{index}",
                messages=(Message.user(row["prompt"] + GSM8K_INSTRUCTION),),
                match="number",
                expected=(answer,),
                tags=("gsm8k", "math"),
            )
        )
    return items


def _vouched_answer(row: dict[str, str]) -> str | None:
    if row.get(_WEAK) != "True":
        return None
    final = _FINAL.search(row.get(f"{_WEAK}_response", ""))
    if final is None:
        return None
    value = float(final.group(1).replace(",", ""))
    if row.get(_STRONG) == "True":
        check = extract_number(row.get(f"{_STRONG}_response", ""))
        if check is None or not math.isclose(check, value, rel_tol=1e-9, abs_tol=1e-9):
            return None
    return str(int(value)) if value.is_integer() else str(value)


def load_named_set(spec: str, data_dir: Path = DEFAULT_DATA_DIR) -> list[EvalItem]:
    """``builtin``, ``gsm8k`` or the path of a JSONL file."""
    if spec == "builtin":
        return builtin_items()
    if spec == "gsm8k":
        return gsm8k_items(data_dir)
    if spec == "mmlu":
        raise ConfigError("the shared MMLU data has per-model correctness labels but no answer key; "
                          "use a JSONL set with 'choice' items", key="--set")
    return load_eval_set(spec)
