"""``deploy/grafana/switchyard.json``: a well-formed dashboard whose every query uses metrics and labels that a
real gateway's ``/metrics`` exposes (scraped here after traffic, with the ledger and the cache on)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from switchyard.simulator import Simulator
from tests.conftest import running

from .conftest import CHAT, ask, server_app

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "switchyard.json"
SUFFIXES = ("_bucket", "_count", "_sum", "_total")
PROMQL_WORDS = {"by", "without", "le", "sum", "max", "rate", "increase", "histogram_quantile", "label_values"}


def queries(dashboard: dict[str, Any]) -> list[str]:
    found = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    found += [v["definition"] for v in dashboard["templating"]["list"] if v.get("type") == "query"]
    return found


async def exposed(sim: Simulator, tmp_path: Path) -> dict[str, set[str]]:
    """Metric name (as queried, with its suffixes) → its labels, from a real scrape."""
    sim.set_faults("openai:gpt-flaky", {"error_rate": 1.0, "error_status": 503})
    budgets = {"budgets": [{"scope": "global", "limit_usd": 10.0}]}
    async with running(server_app(sim, tmp_path, cache={"enabled": True}, governance=budgets)) as client:
        await client.post(CHAT, json=ask("chain"), headers={"x-switchyard-features": "search"})
        await client.post(CHAT, json=ask("claude", stream=True))
        await client.post(CHAT, json=ask(text="asked twice"))
        await asyncio.sleep(0.05)  # the cache stores in the background
        await client.post(CHAT, json=ask(text="asked twice"))
        text = (await client.get("/metrics")).text
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def test_the_dashboard_is_well_formed() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] == "switchyard"
    assert dashboard["title"] == "Switchyard"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["title"]
        assert panel["targets"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0
        assert grid["x"] + grid["w"] <= 24
        for target in panel["targets"]:
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]


async def test_every_query_uses_exposed_metrics_and_labels(sim: Simulator, tmp_path: Path) -> None:
    names = await exposed(sim, tmp_path)
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    used: set[str] = set()
    for query in queries(dashboard):
        metrics = set(re.findall(r"\bswitchyard_[a-z_]+", query))
        assert metrics, query
        for metric in metrics:
            assert metric in names, f"{metric} is not exposed (query: {query})"
            used.add(metric.removesuffix("_bucket"))
        labels = {label.strip() for group in re.findall(r"\bby \(([^)]*)\)", query) for label in group.split(",")}
        labels |= set(re.findall(r"([a-z_]+)\s*(?:!=|=~|!~|=)\s*\"", query))
        labels -= PROMQL_WORDS
        known = set().union(*(names[m] for m in metrics))
        assert labels <= known, f"{query}: {labels - known}"
    # The panels cover each concern of the issue.
    for needed in ("switchyard_requests_total", "switchyard_request_duration_seconds",
                   "switchyard_time_to_first_token_seconds", "switchyard_upstream_duration_seconds",
                   "switchyard_gateway_overhead_seconds", "switchyard_tokens_total", "switchyard_cost_usd_total",
                   "switchyard_retries_total", "switchyard_fallbacks_total", "switchyard_hedges_total",
                   "switchyard_cache_requests_total", "switchyard_breaker_state", "switchyard_budget_spent_usd",
                   "switchyard_budget_limit_usd", "switchyard_in_flight_requests"):
        assert needed in used, needed
