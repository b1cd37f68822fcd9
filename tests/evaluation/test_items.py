"""The JSONL eval-set format: what loads, and errors that name the line and field at fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from switchyard.errors import ConfigError
from switchyard.evaluation import builtin_items, load_eval_set, parse_eval_lines


def write(tmp_path: Path, *rows: Any) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else orjson.dumps(r).decode() for r in rows) + "\n")
    return path


def test_loads_prompts_messages_alternatives_and_tags(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"id": "a", "prompt": "What is 2 + 2?", "expected": "4", "match": "exact", "tags": ["math"]},
        "",
        {
            "id": "b",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Largest ocean?"}],
            "expected": ["Pacific", "Pacific Ocean"],
            "match": "contains",
        },
        {"id": "c", "prompt": "Pick one.\nA. x\nB. y", "expected": "b", "match": "choice"},
        {"id": "d", "prompt": "Write a haiku about trains.", "match": "judge"},
    )
    a, b, c, d = load_eval_set(path)
    assert (a.id, a.match, a.expected, a.tags, a.question) == ("a", "exact", ("4",), ("math",), "What is 2 + 2?")
    assert [m.role for m in b.messages] == ["system", "user"]
    assert b.expected == ("Pacific", "Pacific Ocean")
    assert b.question == "Largest ocean?"
    assert c.expected == ("B",)
    assert d.expected == ()


_DROP = object()


def row(**changes: Any) -> dict[str, Any]:
    """A valid item with some fields changed (``_DROP`` removes one)."""
    base: dict[str, Any] = {"id": "x", "prompt": "p", "expected": "e", "match": "exact"}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not _DROP}


USER = [{"role": "user", "content": "p"}]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", r"set.jsonl:2: not valid JSON"),
        ("[1, 2]", r"set.jsonl:2: expected a JSON object, got list"),
        (row(answer="e"), r"set.jsonl:2: unknown field 'answer'"),
        (row(id=""), r"set.jsonl:2.id: 'id' must be a non-empty"),
        (row(match="fuzzy"), r"set.jsonl:2.match: 'match' must be one of"),
        (row(match=_DROP), r"set.jsonl:2.match: .* got None"),
        (row(expected=_DROP), r"set.jsonl:2.expected: 'expected' is required for match 'exact'"),
        (row(expected=[]), r"set.jsonl:2.expected: .*non-empty"),
        (row(expected="E", match="choice"), r"set.jsonl:2.expected: .*one letter of ABCD, got 'E'"),
        (row(expected="(unclosed", match="regex"), r"set.jsonl:2.expected: invalid regular"),
        (row(expected="twelve", match="number"), r"set.jsonl:2.expected: .*plain number"),
        (row(prompt=_DROP), r"set.jsonl:2: give exactly one of 'prompt' and 'messages'"),
        (row(messages=USER), r"set.jsonl:2: give exactly one"),
        (row(prompt=_DROP, messages=[{"role": "robot", "content": "p"}]), r"set.jsonl:2.messages\[0\]: expected"),
        (
            row(prompt=_DROP, messages=[{"role": "system", "content": "p"}]),
            r"set.jsonl:2.messages: 'messages' needs at least one user turn",
        ),
        (row(tags="math"), r"set.jsonl:2.tags: "),
        (row(id="ok"), r"set.jsonl:2.id: duplicate id 'ok'"),
    ],
)
def test_errors_name_the_line_and_field(tmp_path: Path, bad: Any, message: str) -> None:
    path = write(tmp_path, row(id="ok"), bad)
    with pytest.raises(ConfigError, match=message):
        load_eval_set(path)


def test_an_empty_or_missing_set_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no items"):
        parse_eval_lines(["", "  "], "empty.jsonl")
    with pytest.raises(ConfigError, match="cannot read eval set"):
        load_eval_set(tmp_path / "absent.jsonl")


def test_builtin_example_set_is_valid_and_answerable() -> None:
    items = builtin_items()
    assert len(items) >= 30
    assert all(item.expected for item in items), "the example set is scored without a judge"
    kinds = {item.match for item in items}
    assert {"exact", "contains", "regex", "choice", "number"} <= kinds
    assert len({item.id for item in items}) == len(items)
