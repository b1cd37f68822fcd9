"""Named eval sets: the GSM8K adapter over the shared routing data (and its rules for trusting an answer, on a
small CSV of our own), and what ``mmlu`` says."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import pytest

from switchyard.errors import ConfigError
from switchyard.evaluation import builtin_items, gsm8k_items, load_named_set

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
WEAK, STRONG = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"


def write_gsm8k(root: Path, rows: list[tuple[str, str, str, str, str]], contaminated: list[str]) -> Path:
    folder = root / "routing" / "gsm8k"
    folder.mkdir(parents=True)
    with (folder / "gsm8k_responses.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prompt", WEAK, STRONG, f"{WEAK}_response", f"{STRONG}_response"])
        writer.writerows(rows)
    lines = [orjson.dumps({"train_prompt": p, "eval_prompt": p}).decode() for p in contaminated]
    (folder / "contaminated_prompts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_gsm8k_answers_are_taken_only_where_the_data_vouches_for_them(tmp_path: Path) -> None:
    root = write_gsm8k(
        tmp_path,
        [
            ("both right and agree", "True", "True", "3 + 4 = 7\n#### 7", "So the answer is 7."),
            ("only the weak model right", "True", "False", "#### 1,250", "I think 12"),
            ("both right but disagree", "True", "True", "#### 15", "The result is -15 degrees"),
            ("only the strong model right", "False", "True", "#### 3", "It is 4."),
            ("weak right but no final line", "True", "False", "It is 9.", "9"),
            ("both wrong", "False", "False", "#### 2", "2"),
            ("contaminated", "True", "True", "#### 5", "5"),
        ],
        contaminated=["contaminated"],
    )
    items = gsm8k_items(root)
    assert [(i.id, i.expected) for i in items] == [("gsm8k-0", ("7",)), ("gsm8k-1", ("1250",))]
    assert all(i.match == "number" and i.tags == ("gsm8k", "math") for i in items)
    assert items[0].question.startswith("both right and agree\n\nSolve the problem.")


def test_gsm8k_without_the_data_names_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read the GSM8K data in .*routing/gsm8k"):
        gsm8k_items(tmp_path)


@pytest.mark.skipif(not (SHARED / "routing" / "gsm8k").is_dir(), reason=f"shared routing data not at {SHARED}")
def test_gsm8k_from_the_shared_data() -> None:
    items = load_named_set("gsm8k", SHARED)
    with (SHARED / "routing" / "gsm8k" / "gsm8k_responses.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Most of the 1,319 questions have a vouched answer; none is left without one.
    assert len(rows) // 2 < len(items) < len(rows)
    for item in items[:100]:
        row = rows[int(item.id.removeprefix("gsm8k-"))]
        assert item.question.startswith(row["prompt"])
        assert row[WEAK] == "True"
        assert f"#### {item.expected[0]}" in row[f"{WEAK}_response"].replace(",", "").replace("$", "")


def test_named_sets() -> None:
    assert [i.id for i in load_named_set("builtin")] == [i.id for i in builtin_items()]
    with pytest.raises(ConfigError, match="no answer key"):
        load_named_set("mmlu")
    with pytest.raises(ConfigError, match="cannot read eval set"):
        load_named_set("no/such/set.jsonl")
