"""``switchyard experiments``: the A/B report of a running gateway (``GET /admin/experiments``) in a terminal.

The statistics live in the serving process, so this asks it over HTTP with the master key, rather than reading a
database. With several replicas, ask each (their reports add up: requests, errors, costs and feedback counts).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, TextIO

__all__ = ["add_arguments", "experiments_command", "render_table"]

KEY_ENV = "SWITCHYARD_MASTER_KEY"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", type=Path, default=None,
                        help="take the address (server.host/port) and master key from this configuration")
    parser.add_argument("--url", default=None, help="the gateway (default: http://127.0.0.1:4000)")
    parser.add_argument("--key", default=None, help=f"the master key (default: ${KEY_ENV})")
    parser.add_argument("--format", "-f", dest="fmt", default="table", choices=["table", "json"])


def _target(args: argparse.Namespace) -> tuple[str, str | None]:
    url, key = args.url, args.key or os.environ.get(KEY_ENV)
    if args.config is not None:
        from ..config import load_config

        config = load_config(args.config)
        url = url or f"http://{config.server.host}:{config.server.port}"
        master = config.governance.master_key
        key = key or (master.get() if master is not None else None)
    return (url or "http://127.0.0.1:4000").rstrip("/"), key


def _fetch(url: str, key: str | None) -> dict[str, Any]:
    request = urllib.request.Request(f"{url}/admin/experiments")
    if key:
        request.add_header("authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=10) as response:
        report: dict[str, Any] = json.loads(response.read())
        return report


def _cell(value: object, fmt: str = "{}") -> str:
    return "-" if value is None else fmt.format(value)


def render_table(report: dict[str, Any]) -> str:
    """One line per arm: traffic share, outcome and feedback."""
    header = ("route", "arm", "weight", "requests", "errors", "p50 ms", "p95 ms", "mean $", "feedback (n)")
    rows: list[tuple[str, ...]] = [header]
    for route, experiment in report.get("experiments", {}).items():
        for arm, stats in experiment["arms"].items():
            rows.append((
                route, arm, _cell(stats["weight"], "{:g}"), str(stats["requests"]),
                _cell(stats["error_rate"], "{:.1%}"), _cell(stats["latency_ms_p50"], "{:.0f}"),
                _cell(stats["latency_ms_p95"], "{:.0f}"), _cell(stats["cost_usd_mean"], "{:.6f}"),
                f"{_cell(stats['feedback_mean'], '{:.3f}')} ({stats['feedback_count']})",
            ))
    if len(rows) == 1:
        return "no experiments configured (routes.<name>.experiment)"
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def experiments_command(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    url, key = _target(args)
    try:
        report = _fetch(url, key)
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read())["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = exc.reason
        print(f"switchyard: {url} answered {exc.code}: {message}", file=err)
        return 1
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        print(f"switchyard: cannot reach the gateway at {url}: {reason}", file=err)
        return 1
    print(json.dumps(report, indent=2) if args.fmt == "json" else render_table(report), file=out)
    return 0
