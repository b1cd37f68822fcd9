"""The quality-scores file: written from a report, read back, and every way a hand-edited one can be wrong."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from switchyard.errors import ConfigError
from switchyard.evaluation import EvalReport, TargetSummary, load_quality_scores, write_quality_scores


def summary(target: str, quality: float | None) -> TargetSummary:
    return TargetSummary(
        target=target, n=4, succeeded=4 if quality is not None else 0, scored=4 if quality is not None else 0,
        quality=quality, latency_p50_ms=None, latency_p95_ms=None, cost_usd=None, input_tokens=0, output_tokens=0,
    )


def test_written_scores_read_back(tmp_path: Path) -> None:
    report = EvalReport(
        eval_set="builtin", judge=None, generated_at="2025-01-31T12:00:00+00:00", duration_s=1.0,
        targets=[summary("gpt", 0.75), summary("claude", 1.0), summary("dead", None)], items=[],
    )
    path = tmp_path / "quality.json"
    written = write_quality_scores(report, path)
    assert written == {"gpt": 0.75, "claude": 1.0}
    data = orjson.loads(path.read_bytes())
    assert data == {"generated_at": "2025-01-31T12:00:00+00:00", "eval_set": "builtin", "scores": written}
    assert load_quality_scores(path) == written
    assert [p.name for p in tmp_path.iterdir()] == ["quality.json"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", r"q.json: not valid JSON"),
        (b"[]", r"q.json: expected a JSON object with 'scores'"),
        (b'{"generated_at": 5, "scores": {}}', r"q.json: generated_at: expected a string, got int"),
        (b'{"eval_set": "x"}', r"q.json: scores: missing or not an object"),
        (b'{"scores": [0.5]}', r"q.json: scores: missing or not an object"),
        (b'{"scores": {"gpt": 1.5}}', r"q.json: scores.gpt: a score must be between 0 and 1, got 1.5"),
        (b'{"scores": {"gpt": -0.1}}', r"q.json: scores.gpt: a score must be between 0 and 1"),
        (b'{"scores": {"gpt": "0.5"}}', r"q.json: scores.gpt: expected a number between 0 and 1, got '0.5'"),
        (b'{"scores": {"gpt": true}}', r"q.json: scores.gpt: expected a number between 0 and 1, got True"),
        (b'{"scores": {"gpt": null}}', r"q.json: scores.gpt: expected a number"),
        (b'{"scores": {"": 0.5}}', r"q.json: scores.: a model or route name must not be empty"),
    ],
)
def test_validation_names_the_problem(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "q.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_quality_scores(path)


def test_integers_are_scores_and_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "q.json"
    path.write_bytes(b'{"scores": {"gpt": 1, "claude": 0}}')
    assert load_quality_scores(path) == {"gpt": 1.0, "claude": 0.0}
    with pytest.raises(ConfigError, match=r"cannot read quality scores .*absent.json"):
        load_quality_scores(tmp_path / "absent.json")
