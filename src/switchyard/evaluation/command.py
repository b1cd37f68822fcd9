"""``switchyard eval``: an eval set through a configured gateway, reported as a table or JSON, and optionally a
quality-scores file for the ``quality`` routing strategy."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import orjson

from ..config import load_config
from ..gateway import Gateway
from .datasets import DEFAULT_DATA_DIR, load_named_set
from .quality import write_quality_scores
from .report import print_table, report_json
from .runner import run_eval

__all__ = ["eval_command"]


async def eval_command(
    *,
    config: Path,
    targets: list[str],
    eval_set: str = "builtin",
    data_dir: Path = DEFAULT_DATA_DIR,
    limit: int | None = None,
    concurrency: int = 8,
    judge: str | None = None,
    as_json: bool = False,
    write_quality: Path | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    items = load_named_set(eval_set, data_dir)
    if limit is not None:
        items = items[:limit]
    print(
        f"switchyard eval: {len(items)} item(s) x {len(targets)} target(s), {concurrency} at a time",
        file=err,
        flush=True,
    )
    async with Gateway(load_config(config)) as gateway:
        report = await run_eval(gateway, targets, items, concurrency=concurrency, judge=judge, eval_set=eval_set)
    if as_json:
        out.write(orjson.dumps(report_json(report), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE).decode())
    else:
        print_table(report, out)
    if write_quality is not None:
        scores = write_quality_scores(report, write_quality)
        left_out = [s.target for s in report.targets if s.target not in scores]
        note = f"; left out (nothing scored): {', '.join(left_out)}" if left_out else ""
        print(f"switchyard eval: wrote {len(scores)} quality score(s) to {write_quality}{note}", file=err)
    return 0
