"""The quality-scores file: what an evaluation hands to the ``quality`` routing strategy.

::

    {"generated_at": "2025-01-31T12:00:00+00:00", "eval_set": "builtin",
     "scores": {"gpt-4o-mini": 0.82, "claude-sonnet": 0.91}}

Scores are 0-1 per model or route name, as evaluated. Targets the evaluation could not score (every request
failed, or every judge call) are left out rather than written as 0.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import ConfigError

if TYPE_CHECKING:
    from .runner import EvalReport

__all__ = ["load_quality_scores", "quality_scores", "write_quality_scores"]


def quality_scores(report: EvalReport) -> dict[str, Any]:
    """The file's content for ``report``."""
    return {
        "generated_at": report.generated_at,
        "eval_set": report.eval_set,
        "scores": {s.target: round(s.quality, 6) for s in report.targets if s.quality is not None},
    }


def write_quality_scores(report: EvalReport, path: str | Path) -> dict[str, float]:
    """Write the file (atomically: a router reading it never sees half of it); returns the scores written."""
    path = Path(path)
    content = quality_scores(report)
    partial = path.with_name(f".{path.name}.tmp")
    partial.write_bytes(orjson.dumps(content, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
    os.replace(partial, path)
    scores: dict[str, float] = content["scores"]
    return scores


def load_quality_scores(path: str | Path) -> dict[str, float]:
    """Read and validate a quality-scores file: ``{name: score}`` with every score in 0-1.

    Raises :class:`~switchyard.errors.ConfigError` naming the file and what is wrong with it."""
    path = Path(path)
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read quality scores {path}: {exc.strerror}") from exc
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc}", key=str(path)) from exc
    if not isinstance(data, dict):
        raise ConfigError("expected a JSON object with 'scores'", key=str(path))
    for name in ("generated_at", "eval_set"):
        if name in data and not isinstance(data[name], str):
            raise ConfigError(f"expected a string, got {type(data[name]).__name__}", key=f"{path}: {name}")
    scores = data.get("scores")
    if not isinstance(scores, dict):
        raise ConfigError("missing or not an object of {model or route: score}", key=f"{path}: scores")
    result: dict[str, float] = {}
    for name, value in scores.items():
        where = f"{path}: scores.{name}"
        if not name:
            raise ConfigError("a model or route name must not be empty", key=where)
        # bool is an int to Python, but ``true`` is not a score.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"expected a number between 0 and 1, got {value!r}", key=where)
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"a score must be between 0 and 1, got {value}", key=where)
        result[name] = float(value)
    return result
