"""The usage ledger's CPU cost per request, in process (the writer thread included).

Like ``telemetry_cpu.py``: the ASGI app over a canned upstream, ledger off and on (SQLite in a temporary
directory), in alternating blocks; each block's process CPU time (``time.process_time``: every thread, so the
SQLite writer's inserts count) is divided by its requests. Each block ends with a pause longer than the flush
interval, so the rows it produced are written inside it. ``--legacy`` first creates the table the way releases
before the (ts, request_id) key did (the random request id as primary key), to compare the two layouts.

Run: ``.venv/bin/python bench/ledger_cpu.py [--requests 1500] [--blocks 8] [--legacy]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
from typing import Any

from switchyard import Gateway, parse_config
from switchyard.server.app import GatewayApp
from switchyard.server.services import Services
from telemetry_cpu import CannedTransport, block


def _config(directory: str, ledger: bool) -> Any:
    return parse_config({
        "providers": {"sim": {"type": "openai", "api_key": "sk-bench", "base_url": "http://127.0.0.1:9/v1"}},
        "models": {"gpt-4o-mini": {"provider": "sim", "model": "gpt-4o-mini"}},
        "telemetry": {"metrics": False, "request_log": False},
        "ledger": {"url": f"sqlite:///{directory}/usage.db", "enabled": ledger},
    })


async def main(args: argparse.Namespace, directory: str) -> dict[str, Any]:
    if args.legacy:
        with sqlite3.connect(f"{directory}/usage.db") as legacy:
            legacy.execute('CREATE TABLE usage ("ts" REAL NOT NULL, "request_id" TEXT PRIMARY KEY)')
            legacy.execute('CREATE INDEX usage_ts ON usage ("ts")')
        legacy.close()
    apps: dict[str, GatewayApp] = {}
    for name, enabled in (("off", False), ("on", True)):
        gateway = Gateway(_config(directory, enabled), transport=CannedTransport())
        services = Services(gateway)
        await services.start()
        gateway.start()
        apps[name] = GatewayApp(gateway, keys=services.keys, services=services)
    for target in apps.values():
        await block(target, 300)  # warm-up
    samples: dict[str, list[float]] = {name: [] for name in apps}
    for i in range(args.blocks):
        for name in list(apps) if i % 2 == 0 else list(reversed(apps)):
            started = time.process_time()
            await block(apps[name], args.requests)
            await asyncio.sleep(0.7)  # > flush_interval_s: this block's rows are written within it
            samples[name].append((time.process_time() - started) / args.requests * 1e6)
    ledger = apps["on"].gateway.ledger
    stats = ledger.stats() if ledger is not None else {}
    for target in apps.values():
        await target.gateway.aclose()
        if target.services is not None:
            await target.services.aclose()
    median = {name: round(statistics.median(values), 1) for name, values in samples.items()}
    return {
        "layout": "legacy (request_id primary key)" if args.legacy else "(ts, request_id)",
        "cpu_us_per_request_median": median,
        "added_us_median": round(median["on"] - median["off"], 1),
        "rows_written": stats.get("written"),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="requests per block")
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--legacy", action="store_true", help="the table layout of earlier releases")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(main(arguments, tmp)), indent=2))
