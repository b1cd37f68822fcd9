"""``switchyard eval`` as a user runs it: a config file pointing at the simulator, JSON on stdout, a quality
file the router can load, and clean errors for mistakes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
import yaml

from switchyard.cli import main
from switchyard.evaluation import builtin_items, load_quality_scores
from switchyard.simulator import Faults, Simulator
from tests.conftest import sim_config


@pytest.fixture
def config_file(tmp_path: Path, sim: Simulator) -> Path:
    path = tmp_path / "switchyard.yaml"
    path.write_text(yaml.safe_dump(sim_config(sim.base_url)))
    return path


async def run_cli(*argv: str) -> int:
    # The command runs its own event loop; in a worker thread, the simulator keeps serving on this one.
    return await asyncio.to_thread(main, list(argv))


async def test_json_and_quality_file(
    config_file: Path, tmp_path: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.set_faults("openai:gpt-4o-mini", Faults(accuracy=1.0))
    sim.set_faults("anthropic:claude-sonnet-4-6", Faults(accuracy=0.0))
    quality = tmp_path / "quality.json"
    code = await run_cli(
        "eval", "--config", str(config_file), "--targets", "gpt,claude,dead", "--limit", "12",
        "--concurrency", "4", "--json", "--write-quality", str(quality),
    )
    assert code == 0
    captured = capsys.readouterr()
    report = orjson.loads(captured.out)
    gpt, claude, dead = report["targets"]
    assert [t["target"] for t in report["targets"]] == ["gpt", "claude", "dead"]
    assert report["eval_set"] == "builtin"
    assert len(report["items"]) == 3 * 12
    assert [i["item_id"] for i in report["items"][::3]] == [i.id for i in builtin_items()[:12]]
    assert gpt["n"] == claude["n"] == dead["n"] == 12
    assert (gpt["success_rate"], dead["success_rate"]) == (1.0, 0.0)
    # The first twelve builtin items are arithmetic: the accurate model gets them all, the other none.
    assert (gpt["quality"], claude["quality"], dead["quality"]) == (1.0, 0.0, None)
    assert gpt["cost_usd"] > 0
    assert "12 item(s) x 3 target(s)" in captured.err
    assert "wrote 2 quality score(s)" in captured.err
    assert "left out (nothing scored): dead" in captured.err

    assert load_quality_scores(quality) == {"gpt": 1.0, "claude": 0.0}
    assert orjson.loads(quality.read_bytes())["eval_set"] == "builtin"


async def test_table_output_with_a_jsonl_set(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    eval_set = tmp_path / "mine.jsonl"
    eval_set.write_text('{"id": "one", "prompt": "Capital of France?", "expected": "Paris", "match": "contains"}\n')
    assert await run_cli("eval", "-c", str(config_file), "-t", "gemini", "--set", str(eval_set)) == 0
    out = capsys.readouterr().out
    assert f"eval set {eval_set}: 1 item(s)" in out
    assert "gemini" in out
    assert "quality" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--targets", "gpt,ghost"], "targets: unknown model or route 'ghost'"),
        (["--targets", "gpt", "--set", "missing.jsonl"], "cannot read eval set missing.jsonl"),
        (["--targets", "gpt", "--judge", "nobody"], "judge: unknown model or route 'nobody'"),
    ],
)
async def test_mistakes_exit_2_with_the_reason(
    config_file: Path, sim: Simulator, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert await run_cli("eval", "--config", str(config_file), *extra) == 2
    assert message in capsys.readouterr().err
    assert sim.requests == {}
