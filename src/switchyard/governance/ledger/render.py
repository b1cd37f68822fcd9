"""Usage reports as a table (rich), CSV or JSON. JSON has the admin API's shape: ``{"by": ..., "data": [...]}``."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import msgspec
import orjson
from rich.console import Console
from rich.table import Table

from .report import FEATURE_NOTE, UsageRow

__all__ = ["render_csv", "render_json", "render_table"]

NONE_LABEL = "(none)"

_HEADERS = {
    "requests": "requests",
    "errors": "errors",
    "input_tokens": "input tok",
    "output_tokens": "output tok",
    "cached_tokens": "cached tok",
    "cost_usd": "cost $",
    "unknown_cost": "unpriced",
    "cache_hits": "cache hits",
    "avg_latency_ms": "avg ms",
    "p95_latency_ms": "p95 ms",
}


def _note(group_by: str) -> str | None:
    return FEATURE_NOTE if group_by == "feature" else None


def _cells(row: UsageRow) -> list[str]:
    return [
        f"{row.requests:,}",
        f"{row.errors:,}",
        f"{row.input_tokens:,}",
        f"{row.output_tokens:,}",
        f"{row.cached_tokens:,}",
        f"{row.cost_usd:,.4f}",
        f"{row.unknown_cost:,}",
        f"{row.cache_hits:,}",
        f"{row.avg_latency_ms:,.0f}",
        f"{row.p95_latency_ms:,.0f}",
    ]


def _total(rows: Sequence[UsageRow]) -> UsageRow:
    requests = sum(r.requests for r in rows)
    return UsageRow(
        group="total",
        requests=requests,
        errors=sum(r.errors for r in rows),
        input_tokens=sum(r.input_tokens for r in rows),
        output_tokens=sum(r.output_tokens for r in rows),
        cached_tokens=sum(r.cached_tokens for r in rows),
        cost_usd=sum(r.cost_usd for r in rows),
        unknown_cost=sum(r.unknown_cost for r in rows),
        cache_hits=sum(r.cache_hits for r in rows),
        avg_latency_ms=sum(r.avg_latency_ms * r.requests for r in rows) / requests if requests else 0.0,
        p95_latency_ms=max((r.p95_latency_ms for r in rows), default=0.0),
    )


def render_table(rows: Sequence[UsageRow], group_by: str, *, title: str | None = None, width: int = 140) -> str:
    """A rich table with a total line (except by feature, where requests count under several tags).
    The total's p95 is the highest group's p95, an upper bound."""
    table = Table(title=title, caption=_note(group_by), show_footer=False)
    table.add_column(group_by)
    for header in _HEADERS.values():
        table.add_column(header, justify="right")
    for row in rows:
        table.add_row(row.group if row.group is not None else NONE_LABEL, *_cells(row))
    if rows and group_by != "feature":
        table.add_section()
        table.add_row("total", *_cells(_total(rows)), style="bold")
    if not rows:
        table.add_row("(no usage)", *([""] * len(_HEADERS)))
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, legacy_windows=False).print(table)
    return out.getvalue()


def render_csv(rows: Sequence[UsageRow], group_by: str) -> str:
    """One line per group; the first column is named after the grouping, empty for requests without one."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([group_by, *_HEADERS])
    for row in rows:
        writer.writerow(["" if row.group is None else row.group, *msgspec.structs.astuple(row)[1:]])
    return out.getvalue()


def render_json(
    rows: Sequence[UsageRow], group_by: str, *, since: float | None = None, until: float | None = None, tz: str = "UTC"
) -> str:
    document: dict[str, object] = {"by": group_by, "since": since, "until": until, "tz": tz}
    note = _note(group_by)
    if note:
        document["note"] = note
    document["data"] = [msgspec.to_builtins(r) for r in rows]
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"
