"""Several gateway processes sharing one Redis and one PostgreSQL: do budgets, rate limits and the ledger
hold? ``python bench/replicas.py`` (tests/governance/test_replicas.py runs the same scenario).

Four ``switchyard serve`` processes (one Redis namespace, one PostgreSQL schema, both fresh) in front of the
provider simulator. Two virtual keys, created through the admin API of one replica:

- budget: a key with its own hard budget; 240 concurrent requests spread over the replicas. Acceptance:
  actual spend (from the ledger) ≤ the budget + one request's maximum cost.
- rpm: a key limited to 100 requests per minute; 250 concurrent requests. Acceptance: admitted ≤ 101 (1 %).
- ledger: after a graceful shutdown, exactly one row per request sent, with the client's request id.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import Services, free_port

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
MASTER = "sk-master-replicas-test"
"""A throwaway credential for this local run (not a real secret)."""
MAX_TOKENS = 16
"""Small enough that the simulator's answer is cut at it: actual cost ≈ the reservation, so the budget is
really spent to its limit rather than held by over-sized reservations."""
PROMPT = "Summarise the causes of the French revolution in three sentences."


def _config(sim_port: int, namespace: str, schema: str) -> dict[str, Any]:
    return {
        "providers": {"sim": {"type": "openai", "api_key": "sk-sim", "base_url": f"http://127.0.0.1:{sim_port}/v1"}},
        "models": {"gpt": {"provider": "sim", "model": "gpt-4o"}},
        "governance": {
            "master_key": MASTER,
            "auth": "required",
            "state": {"backend": "redis", "namespace": namespace},
        },
        "ledger": {"url": f"{PG_DSN}?schema={schema}", "flush_interval_s": 0.2},
    }


async def _create_key(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> str:
    async with session.post(f"{url}/admin/keys", json=body, headers={"authorization": f"Bearer {MASTER}"}) as resp:
        data = await resp.json()
        if resp.status != 201:
            raise RuntimeError(f"creating a key failed: {resp.status} {data}")
        return str(data["secret"])


async def _burst(
    session: aiohttp.ClientSession, urls: list[str], secret: str, count: int, tag: str
) -> tuple[Counter[int], list[str], float]:
    ids = [f"{tag}-{i:04d}-{uuid.uuid4().hex[:8]}" for i in range(count)]
    estimate = 0.0

    async def one(i: int) -> int:
        nonlocal estimate
        headers = {"authorization": f"Bearer {secret}", "x-request-id": ids[i]}
        body = {"model": "gpt", "max_tokens": MAX_TOKENS, "messages": [{"role": "user", "content": PROMPT}]}
        async with session.post(f"{urls[i % len(urls)]}/v1/chat/completions", json=body, headers=headers) as resp:
            await resp.read()
            if resp.status == 200:
                estimate = max(estimate, float(resp.headers["x-switchyard-cost-estimate-usd"]))
            return resp.status

    statuses = await asyncio.gather(*(one(i) for i in range(count)))
    return Counter(statuses), ids, estimate


async def scenario(replicas: int = 4, budget_requests: int = 240, rpm_requests: int = 250) -> dict[str, Any]:
    namespace, schema = f"replicas-{uuid.uuid4().hex[:8]}", f"replicas_{uuid.uuid4().hex[:8]}"
    log_dir = Path(tempfile.mkdtemp(prefix="switchyard-replicas-"))
    config_path = log_dir / "switchyard.json"
    sim_port = free_port()
    config_path.write_text(json.dumps(_config(sim_port, namespace, schema)))
    python = sys.executable
    figures: dict[str, Any] = {"replicas": replicas}
    with Services(log_dir) as services:
        sim = services.start("sim", [python, "-m", "switchyard.cli", "simulate", "--port", str(sim_port)], sim_port)
        _wait_port(sim_port)
        gateways = []
        for i in range(replicas):
            port = free_port()
            argv = [python, "-m", "switchyard.cli", "serve", "--config", str(config_path), "--port", str(port)]
            gateways.append(services.start(f"gateway-{i}", argv, port))
        for gateway in gateways:
            gateway.wait_ready()
        urls = [g.url for g in gateways]
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
            # One request's maximum cost, from the gateway's own estimate, sizes the budget to ~1/3 of the burst.
            probe_key = await _create_key(session, urls[0], {"name": "probe"})
            _, probe_ids, one_max = await _burst(session, urls, probe_key, 1, "probe")
            budget = round(one_max * budget_requests / 3, 6)
            budget_key = await _create_key(
                session, urls[1], {"name": "budgeted", "budgets": [{"limit_usd": budget, "window": "daily"}]}
            )
            rpm_key = await _create_key(session, urls[2], {"name": "limited", "limits": {"rpm": 100}})
            await asyncio.sleep(0.1)
            started = time.perf_counter()
            budget_status, budget_ids, _ = await _burst(session, urls, budget_key, budget_requests, "budget")
            rpm_status, rpm_ids, _ = await _burst(session, urls, rpm_key, rpm_requests, "rpm")
            figures["burst_seconds"] = round(time.perf_counter() - started, 2)
        for gateway in gateways:
            services.stop(gateway)  # SIGTERM: graceful shutdown flushes the ledger
        services.stop(sim)
    sent = [*probe_ids, *budget_ids, *rpm_ids]
    connection = await asyncpg.connect(PG_DSN)
    try:
        rows = await connection.fetch(f'SELECT request_id, cost_usd, status, key_id FROM "{schema}".usage')
    finally:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await connection.close()
    by_id = Counter(r["request_id"] for r in rows)
    spent = sum(r["cost_usd"] or 0.0 for r in rows if r["request_id"].startswith("budget-"))
    figures.update(
        budget_usd=budget,
        one_request_max_usd=one_max,
        budget_statuses=dict(budget_status),
        spent_usd=round(spent, 8),
        overshoot_usd=round(max(0.0, spent - budget), 8),
        rpm_limit=100,
        rpm_statuses=dict(rpm_status),
        rpm_admitted=rpm_status.get(200, 0),
        ledger_rows=len(rows),
        requests_sent=len(sent),
        ledger_duplicates=sum(1 for n in by_id.values() if n > 1),
        ledger_missing=len([i for i in budget_ids + rpm_ids if i not in by_id]),
    )
    figures["pass"] = bool(
        figures["overshoot_usd"] <= one_max
        and figures["rpm_admitted"] <= 101
        and figures["rpm_admitted"] >= 99
        and figures["ledger_duplicates"] == 0
        and figures["ledger_missing"] == 0
        and figures["ledger_rows"] == len(by_id)
    )
    return figures


def _wait_port(port: int, timeout: float = 10.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


def main() -> int:
    figures = asyncio.run(scenario())
    for name, value in figures.items():
        print(f"{name:>22}: {value}")
    print("PASS" if figures["pass"] else "FAIL")
    return 0 if figures["pass"] else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
