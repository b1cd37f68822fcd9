"""``switchyard usage``: the usage report on the command line (the admin API's ``/admin/usage`` in a terminal)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import NamedTuple, TextIO

from ...errors import DatabaseUnavailableError, RequestError
from ..timespec import parse_time
from . import open_database, parse_database_url
from .report import FEATURE_NOTE

__all__ = ["add_arguments", "usage_command"]

DEFAULT_URL = "sqlite:///switchyard.db"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .report import GROUP_BY

    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", "-c", type=Path, default=None, help="read ledger.url from this configuration")
    source.add_argument("--db", default=None, help=f"database URL (default: {DEFAULT_URL})")
    parser.add_argument("--by", default="day", choices=GROUP_BY)
    parser.add_argument("--since", default=None, help="YYYY-MM-DD, ISO date-time, or a span back from now: 7d, 12h")
    parser.add_argument("--until", default=None, help="same forms; excluded (default: now)")
    parser.add_argument("--format", "-f", dest="fmt", default="table", choices=["table", "csv", "json"])
    parser.add_argument("--tz", default=None, help="time zone for days and dates (default: ledger.timezone, UTC)")


class _Query(NamedTuple):
    url: str
    tz: str
    since: float | None
    until: float | None


def _prepare(args: argparse.Namespace, err: TextIO) -> _Query | int:
    url, tz = args.db or DEFAULT_URL, args.tz
    if args.config is not None:
        from ...config import load_config

        ledger = load_config(args.config).ledger
        url, tz = ledger.url.get(), tz or ledger.timezone
    tz = tz or "UTC"
    parsed = parse_database_url(url)
    if parsed.backend == "sqlite" and parsed.path != ":memory:" and not Path(parsed.path).exists():
        print(f"switchyard: no usage database at {parsed.path}", file=err)
        return 1
    try:
        since = parse_time(args.since, tz=tz) if args.since else None
        until = parse_time(args.until, tz=tz) if args.until else None
    except RequestError as exc:
        print(f"switchyard: {exc.message}", file=err)
        return 2
    return _Query(url, tz, since, until)


async def usage_command(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print the report; returns the exit status (1: no database or unreachable, 2: bad arguments)."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    query = await asyncio.to_thread(_prepare, args, err)  # reads files: off the event loop
    if isinstance(query, int):
        return query
    db = open_database(query.url)
    try:
        rows = await db.usage_report(args.by, query.since, query.until, query.tz)
    except DatabaseUnavailableError as exc:
        print(f"switchyard: {exc.message}", file=err)
        return 1
    finally:
        await db.aclose()
    from .render import render_csv, render_json, render_table  # rich loads only when a report is printed

    if args.fmt == "json":
        out.write(render_json(rows, args.by, since=query.since, until=query.until, tz=query.tz))
    elif args.fmt == "csv":
        out.write(render_csv(rows, args.by))
        if args.by == "feature":
            print(f"note: {FEATURE_NOTE}", file=err)
    else:
        out.write(render_table(rows, args.by, title=f"usage by {args.by} ({query.tz}) — {db.url}"))
    return 0
