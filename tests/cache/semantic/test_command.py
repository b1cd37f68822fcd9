"""``switchyard eval-cache`` end to end on a sample of the real pairs: the table and the JSON."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from switchyard.cli import main


@pytest.mark.timeout(300)
def test_eval_cache_prints_a_table_and_json(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["eval-cache", "--data", str(data_dir), "--limit", "80", "--min-served", "3", "--cache-dir", str(tmp_path)]
    assert main(args) == 0
    table = capsys.readouterr().out
    for heading in ("Static cosine threshold", "Verified cache", "Operating point", "Hard negatives", "protocol:",
                    "most precise point static cosine reaches", "calib-only forecast", "Label ceiling"):
        assert heading in table
    assert main([*args, "--json"]) == 0
    figures = orjson.loads(capsys.readouterr().out)
    assert figures["pairs"] == 80
    assert set(figures["operating"]) >= {"served", "precision", "hit_rate", "false_hit_rate", "threshold"}
    assert figures["hard_negative_hits"] == []
    assert set(figures["at_cosine_best"]) == {"precision", "verified_hit_rate", "cosine_hit_rate", "ratio"}
