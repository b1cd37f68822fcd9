"""An :class:`EvalReport` as JSON or as a table (rich when installed, aligned text otherwise)."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, TextIO

from .runner import EvalReport, TargetSummary

__all__ = ["print_table", "report_json", "table_rows", "text_table"]

HEADERS = ("target", "n", "ok", "p50 ms", "p95 ms", "cost $", "$/item", "tokens in/out", "quality", "scored")


def report_json(report: EvalReport, *, items: bool = True) -> dict[str, Any]:
    """Everything measured, per target and (with ``items``) per item, answers included."""
    targets = [
        {**dataclasses.asdict(s), "success_rate": s.success_rate, "cost_per_item_usd": s.cost_per_item_usd}
        for s in report.targets
    ]
    data: dict[str, Any] = {
        "eval_set": report.eval_set,
        "judge": report.judge,
        "generated_at": report.generated_at,
        "duration_s": round(report.duration_s, 3),
        "targets": targets,
    }
    if items:
        data["items"] = [dataclasses.asdict(r) for r in report.items]
    return data


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.6f}" if value < 0.01 else f"{value:.4f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _row(s: TargetSummary) -> list[str]:
    scored = f"{s.scored}/{s.succeeded}" + (f" ({s.judge_failures} judge failed)" if s.judge_failures else "")
    return [
        s.target,
        str(s.n),
        f"{s.success_rate:.0%}",
        _ms(s.latency_p50_ms),
        _ms(s.latency_p95_ms),
        # "unknown" is for an unknown price; with no answer there is nothing to price.
        _money(s.cost_usd) if s.succeeded else "-",
        _money(s.cost_per_item_usd) if s.succeeded else "-",
        f"{s.input_tokens}/{s.output_tokens}",
        "-" if s.quality is None else f"{s.quality:.3f}",
        scored,
    ]


def table_rows(report: EvalReport) -> list[list[str]]:
    """One row of cells per target, in :data:`HEADERS` order."""
    return [_row(s) for s in report.targets]


def text_table(report: EvalReport) -> str:
    rows = table_rows(report)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(HEADERS)]

    def line(cells: list[str] | tuple[str, ...]) -> str:
        # The target name reads left to right; the figures line up on their last digit.
        padded = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(padded).rstrip()

    return "\n".join([line(HEADERS), "  ".join("─" * w for w in widths), *(line(row) for row in rows)])


def _caption(report: EvalReport) -> str:
    judged = f", judged by {report.judge}" if report.judge else ""
    count = len({r.item_id for r in report.items})
    return f"eval set {report.eval_set or '-'}: {count} item(s){judged}, {report.duration_s:.1f} s"


def print_table(report: EvalReport, file: TextIO | None = None) -> None:
    """The per-target table, through rich when it is installed."""
    out = file if file is not None else sys.stdout
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(f"{_caption(report)}\n{text_table(report)}", file=out)
        return
    table = Table(title=_caption(report))
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if i == 0 else "right")
    for row in table_rows(report):
        table.add_row(*row)
    Console(file=out, width=max(120, len(_caption(report)))).print(table)
