"""Eval items and the JSONL eval-set format.

One JSON object a line::

    {"id": "arith-1", "prompt": "What is 17 * 23? Answer with the number only.", "expected": "391",
     "match": "exact", "tags": ["math"]}

- ``id``: unique within the set.
- ``prompt`` (one user turn) or ``messages`` (``[{"role": "system"|"user"|"assistant", "content": "..."}]``).
- ``expected``: a string, or a list of accepted alternatives; required except for ``judge`` items, where it is an
  optional reference answer shown to the judge.
- ``match``: ``exact`` (after normalising case, whitespace and punctuation), ``contains`` (the expected words
  appear in order as whole words), ``regex`` (``expected`` is a pattern searched for), ``choice`` (the letter
  A-D the answer picks), ``number`` (the answer's last number equals the expected one) or ``judge``.
- ``tags``: optional labels, carried through to per-item results.

Loading validates everything up front, so a typo on line 400 fails before anything is sent; errors are
:class:`~switchyard.errors.ConfigError` naming ``file:line`` and the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import orjson

from ..errors import ConfigError
from ..types import Message

__all__ = ["CHOICES", "EvalItem", "Match", "load_eval_set", "parse_eval_item", "parse_eval_lines"]

Match = Literal["exact", "contains", "regex", "choice", "number", "judge"]
MATCHES: tuple[str, ...] = get_args(Match)
CHOICES = "ABCD"
"""The letters a ``choice`` item may expect."""

_FIELDS = frozenset({"id", "prompt", "messages", "expected", "match", "tags"})
_MAKERS: dict[str, Callable[[str], Message]] = {
    "system": Message.system, "user": Message.user, "assistant": Message.assistant
}
_ROLES = frozenset(_MAKERS)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class EvalItem:
    """One question of an eval set."""

    id: str
    messages: tuple[Message, ...]
    match: Match
    expected: tuple[str, ...] = ()
    """Accepted answers (``choice``: upper-case letters; ``regex``: patterns); empty only for ``judge``."""
    tags: tuple[str, ...] = ()

    @property
    def question(self) -> str:
        """The last user turn: what a judge is told was asked."""
        return next((m.text for m in reversed(self.messages) if m.role == "user"), "")


def parse_eval_item(data: Any, where: str = "item") -> EvalItem:
    """Validate one decoded JSON object; ``where`` prefixes error messages (``set.jsonl:3``)."""
    if not isinstance(data, dict):
        raise ConfigError(f"expected a JSON object, got {type(data).__name__}", key=where)
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ConfigError(f"unknown field {unknown[0]!r} (known: {', '.join(sorted(_FIELDS))})", key=where)
    ident = data.get("id")
    if not isinstance(ident, str) or not ident.strip():
        raise ConfigError("'id' must be a non-empty string", key=f"{where}.id")
    match = data.get("match")
    if match not in MATCHES:
        raise ConfigError(f"'match' must be one of {', '.join(MATCHES)}, got {match!r}", key=f"{where}.match")
    return EvalItem(
        id=ident,
        messages=_messages(data, where),
        match=match,
        expected=_expected(data.get("expected"), match, f"{where}.expected"),
        tags=_tags(data.get("tags"), f"{where}.tags"),
    )


def parse_eval_lines(lines: Iterable[str], source: str) -> list[EvalItem]:
    """Items of a JSONL text; blank lines are skipped and ids must be unique."""
    items: list[EvalItem] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"not valid JSON: {exc}", key=where) from exc
        item = parse_eval_item(data, where)
        if item.id in seen:
            raise ConfigError(f"duplicate id {item.id!r}", key=f"{where}.id")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise ConfigError("the eval set has no items", key=source)
    return items


def load_eval_set(path: str | Path) -> list[EvalItem]:
    """Read and validate a JSONL eval set."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read eval set {path}: {exc.strerror}") from exc
    return parse_eval_lines(text.splitlines(), str(path))


def _messages(data: dict[str, Any], where: str) -> tuple[Message, ...]:
    if ("prompt" in data) == ("messages" in data):
        raise ConfigError("give exactly one of 'prompt' and 'messages'", key=where)
    if "prompt" in data:
        prompt = data["prompt"]
        if not isinstance(prompt, str) or not prompt.strip():
            raise ConfigError("'prompt' must be a non-empty string", key=f"{where}.prompt")
        return (Message.user(prompt),)
    raw = data["messages"]
    if not isinstance(raw, list) or not raw:
        raise ConfigError("'messages' must be a non-empty list", key=f"{where}.messages")
    messages: list[Message] = []
    for i, entry in enumerate(raw):
        key = f"{where}.messages[{i}]"
        if not isinstance(entry, dict) or entry.get("role") not in _ROLES or not isinstance(entry.get("content"), str):
            raise ConfigError("expected {\"role\": system|user|assistant, \"content\": string}", key=key)
        messages.append(_MAKERS[entry["role"]](entry["content"]))
    if not any(m.role == "user" for m in messages):
        raise ConfigError("'messages' needs at least one user turn", key=f"{where}.messages")
    return tuple(messages)


def _expected(raw: Any, match: Match, key: str) -> tuple[str, ...]:
    if raw is None:
        if match == "judge":
            return ()
        raise ConfigError(f"'expected' is required for match {match!r}", key=key)
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise ConfigError("'expected' must be a non-empty string or a non-empty list of them", key=key)
    if match == "choice":
        letters = [v.strip().upper() for v in values]
        bad = next((v for v in letters if len(v) != 1 or v not in CHOICES), None)
        if bad is not None:
            raise ConfigError(f"a choice answer is one letter of {CHOICES}, got {bad!r}", key=key)
        return tuple(letters)
    if match == "regex":
        for pattern in values:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"invalid regular expression {pattern!r}: {exc}", key=key) from exc
    if match == "number":
        bad = next((v for v in values if not _NUMBER.fullmatch(v.strip().replace(",", ""))), None)
        if bad is not None:
            raise ConfigError(f"a number answer must be a plain number, got {bad!r}", key=key)
    return tuple(values)


def _tags(raw: Any, key: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise ConfigError("'tags' must be a list of strings", key=key)
    return tuple(raw)
