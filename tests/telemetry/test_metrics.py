"""``GET /metrics`` over the real server stack and the simulator, read back with prometheus_client's own parser:
the contract in deploy/README.md (names, types, labels, buckets) and the counts the traffic must produce."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from switchyard.simulator import Simulator
from switchyard.telemetry.metrics import DURATION_BUCKETS, UNKNOWN_ROUTE
from tests.conftest import running

from .conftest import CHAT, ask, server_app

CONTRACT = {
    "switchyard_requests": ("counter", {"route", "provider", "deployment", "status_class", "error_class"}),
    "switchyard_request_duration_seconds": ("histogram", {"route", "provider", "deployment"}),
    "switchyard_cost_usd": ("counter", {"provider", "deployment", "feature"}),
    "switchyard_budget_spent_usd": ("gauge", {"budget"}),
    "switchyard_budget_limit_usd": ("gauge", {"budget"}),
    "switchyard_breaker_state": ("gauge", {"deployment"}),
}


class Exposition:
    def __init__(self, text: str) -> None:
        self.families = {f.name: f for f in text_string_to_metric_families(text)}

    def samples(self, name: str, **labels: str) -> list[Sample]:
        family = self.families[_family(name)]
        return [s for s in family.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name: str, **labels: str) -> float:
        return sum(s.value for s in self.samples(name, **labels))


def _family(name: str) -> str:
    for suffix in ("_total", "_bucket", "_count", "_sum", "_created"):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


async def scrape(client: httpx.AsyncClient) -> Exposition:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return Exposition(response.text)


def config(**extra: Any) -> dict[str, Any]:
    return {
        "resilience": {"breaker": {"failures": 2, "cooldown_s": 600}, "retry": {"max_attempts": 6}},
        "governance": {"budgets": [
            {"scope": "global", "limit_usd": 100.0},
            {"scope": "feature", "name": "search", "limit_usd": 5.0, "window": "daily"},
            # One budget per user: exporting it would make user names labels.
            {"scope": "user", "limit_usd": 1.0, "window": "daily"},
        ]},
        **extra,
    }


async def test_metric_contract_names_types_labels_and_buckets(sim: Simulator, tmp_path: Path) -> None:
    async with running(server_app(sim, tmp_path, **config())) as client:
        response = await client.post(CHAT, json=ask(), headers={"x-switchyard-features": "search"})
        assert response.status_code == 200
        metrics = await scrape(client)
    for name, (kind, labels) in CONTRACT.items():
        family = metrics.families[name]
        assert family.type == kind, name
        for sample in family.samples:
            expected = labels | ({"le"} if sample.name.endswith("_bucket") else set())
            assert set(sample.labels) == expected, sample
    buckets = [s.labels["le"] for s in metrics.samples("switchyard_request_duration_seconds_bucket", deployment="gpt")]
    assert [float(b) for b in buckets[:-1]] == list(DURATION_BUCKETS)
    assert buckets[-1] == "+Inf"
    assert 10.0 in DURATION_BUCKETS
    assert max(DURATION_BUCKETS) > 10.0


async def test_requests_errors_tokens_cost_and_steps_match_the_traffic(sim: Simulator, tmp_path: Path) -> None:
    sim.set_faults("openai:gpt-flaky", {"error_rate": 1.0, "error_status": 503})
    async with running(server_app(sim, tmp_path, **config())) as client:
        answers = [
            await client.post(CHAT, json=ask(), headers={"x-switchyard-features": "search,summarise"}),
            await client.post(CHAT, json=ask(), headers={"x-switchyard-user": "alice"}),
            await client.post(CHAT, json=ask("chain")),  # dead, flaky fail → claude answers
        ]
        unknown = await client.post(CHAT, json=ask("no-such-model"))
        unreadable = await client.post(CHAT, content=b"{not json")
        failed = await client.post(CHAT, json=ask("only-dead"))
        metrics = await scrape(client)
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert (unknown.status_code, unreadable.status_code, failed.status_code) == (404, 400, 503)

    requests = "switchyard_requests_total"
    assert metrics.value(requests, route="gpt", deployment="gpt", provider="openai", status_class="2xx",
                         error_class="") == 2
    assert metrics.value(requests, route="chain", deployment="claude", provider="anthropic", status_class="2xx") == 1
    assert metrics.value(requests, route=UNKNOWN_ROUTE, deployment="", status_class="4xx",
                         error_class="ModelNotFoundError") == 1
    assert metrics.value(requests, route="", deployment="", status_class="4xx", error_class="InvalidRequestError") == 1
    assert metrics.value(requests, route="only-dead", status_class="5xx", error_class="AllAttemptsFailedError") == 1
    assert metrics.value(requests) == 6  # once each: neither attempts nor retries add requests

    # Tokens and cost as the client was told.
    usage = [a.json()["usage"] for a in answers]
    assert metrics.value("switchyard_tokens_total", type="input") == sum(u["prompt_tokens"] for u in usage)
    assert metrics.value("switchyard_tokens_total", type="output") == sum(u["completion_tokens"] for u in usage)
    cost = "switchyard_cost_usd_total"
    assert metrics.value(cost, deployment="gpt", feature="search") == pytest.approx(usage[0]["cost_usd"])
    assert metrics.value(cost, deployment="gpt", feature="summarise") == pytest.approx(usage[0]["cost_usd"])
    assert metrics.value(cost, deployment="gpt", feature="") == pytest.approx(usage[1]["cost_usd"])
    assert metrics.value(cost, deployment="claude") == pytest.approx(usage[2]["cost_usd"])

    # chain: dead (unreachable) → flaky (503) → claude: two fallbacks. only-dead: whatever its error lists.
    assert metrics.value("switchyard_fallbacks_total", route="chain", deployment="claude") == 2
    assert metrics.value("switchyard_upstream_attempts_total", deployment="claude", error_class="") == 1
    assert metrics.value("switchyard_upstream_attempts_total", deployment="flaky",
                         error_class="UpstreamUnavailableError") >= 2
    tried = [a["deployment"] for a in failed.json()["error"]["attempts"]]
    assert metrics.value("switchyard_retries_total", route="only-dead") == len(tried) - len(set(tried))
    assert metrics.value("switchyard_fallbacks_total", route="only-dead") == len(set(tried)) - 1

    # Histograms: one observation per request with a deployment; upstream plus overhead covers the duration.
    duration = metrics.value("switchyard_request_duration_seconds_count", route="chain")
    assert duration == metrics.value("switchyard_upstream_duration_seconds_count", route="chain") == 1
    total = metrics.value("switchyard_request_duration_seconds_sum", route="chain")
    upstream = metrics.value("switchyard_upstream_duration_seconds_sum", route="chain")
    overhead = metrics.value("switchyard_gateway_overhead_seconds_sum", route="chain")
    assert upstream + overhead == pytest.approx(total, abs=1e-3)
    assert metrics.value("switchyard_in_flight_requests") == 0

    # Breakers: dead failed on every call (failures: 2 opens it); the rest are closed.
    assert metrics.value("switchyard_breaker_state", deployment="dead") == 2
    assert metrics.value("switchyard_breaker_state", deployment="gpt") == 0

    # Budgets: the global one and the named feature budget, never the per-user ones.
    budgets = {s.labels["budget"] for s in metrics.samples("switchyard_budget_spent_usd")}
    assert any(b.startswith("global monthly budget") for b in budgets)
    assert any(b.startswith("feature 'search' daily budget") for b in budgets)
    assert not any("alice" in b for b in budgets)
    assert "alice" not in str(metrics.families)
    spent = [s.value for s in metrics.samples("switchyard_budget_spent_usd") if s.labels["budget"].startswith("global")]
    assert spent[0] == pytest.approx(sum(u["cost_usd"] for u in usage))
    assert {s.value for s in metrics.samples("switchyard_budget_limit_usd")} == {100.0, 5.0}

    # What the gateway keeps elsewhere, read at scrape time.
    assert metrics.value("switchyard_ledger_buffered_records") >= 0
    assert metrics.value("switchyard_state_store_unavailable_total") == 0
    assert "process_cpu_seconds" in metrics.families


async def test_streams_are_counted_once_with_time_to_first_token(sim: Simulator, tmp_path: Path) -> None:
    async with running(server_app(sim, tmp_path)) as client:
        async with client.stream("POST", CHAT, json=ask("claude", stream=True)) as response:
            body = (await response.aread()).decode()
        metrics = await scrape(client)
    assert body.rstrip().endswith("data: [DONE]")
    labels = {"route": "claude", "deployment": "claude", "provider": "anthropic"}
    assert metrics.value("switchyard_requests_total", **labels, status_class="2xx") == 1
    assert metrics.value("switchyard_time_to_first_token_seconds_count", **labels) == 1
    ttft = metrics.value("switchyard_time_to_first_token_seconds_sum", **labels)
    total = metrics.value("switchyard_request_duration_seconds_sum", **labels)
    assert 0 < ttft <= total


async def test_hedges_are_counted(sim: Simulator, tmp_path: Path) -> None:
    sim.set_faults("openai:gpt-slow", {"latency": {"ms": 400}})
    extra = {
        "models": {"slow": {"provider": "openai", "model": "gpt-slow"}},
        "routes": {"hedged": {"targets": ["slow", "gpt"], "hedge": {"delay_ms": 20}}},
    }
    async with running(server_app(sim, tmp_path, **extra)) as client:
        response = await client.post(CHAT, json=ask("hedged"))
        metrics = await scrape(client)
    assert response.status_code == 200
    assert response.headers["x-switchyard-deployment"] == "gpt"
    assert metrics.value("switchyard_hedges_total", route="hedged") == 1
    assert metrics.value("switchyard_upstream_attempts_total", deployment="slow", error_class="cancelled") == 1


async def test_cache_outcomes_are_counted(sim: Simulator, tmp_path: Path) -> None:
    async with running(server_app(sim, tmp_path, cache={"enabled": True})) as client:
        first = await client.post(CHAT, json=ask(text="what is a container ship?"))
        await asyncio.sleep(0.05)  # the store is written in the background
        second = await client.post(CHAT, json=ask(text="what is a container ship?"))
        metrics = await scrape(client)
    assert (first.headers["x-switchyard-cache"], second.headers["x-switchyard-cache"]) == ("miss", "hit")
    assert metrics.value("switchyard_cache_requests_total", route="gpt", outcome="miss") == 1
    assert metrics.value("switchyard_cache_requests_total", route="gpt", outcome="hit") == 1
    assert metrics.value("switchyard_cache_saved_tokens_total") > 0
    # A hit cost nothing: cost counts the miss only.
    assert metrics.value("switchyard_cost_usd_total") == pytest.approx(first.json()["usage"]["cost_usd"])


async def test_feature_labels_are_capped(sim: Simulator, tmp_path: Path) -> None:
    async with running(server_app(sim, tmp_path, telemetry={"max_feature_labels": 2})) as client:
        for feature in ("a", "b", "c", "d"):
            await client.post(CHAT, json=ask(), headers={"x-switchyard-features": feature})
        metrics = await scrape(client)
    features = {s.labels["feature"] for s in metrics.samples("switchyard_cost_usd_total")}
    assert features == {"a", "b", "(other)"}


async def test_metrics_can_require_the_master_key(sim: Simulator, tmp_path: Path) -> None:
    master = "sk-master-for-metrics-0000"
    extra = {"governance": {"master_key": master}, "telemetry": {"metrics_require_key": True}}
    async with running(server_app(sim, tmp_path, **extra)) as client:
        assert (await client.get("/metrics")).status_code == 401
        allowed = await client.get("/metrics", headers={"authorization": f"Bearer {master}"})
    assert allowed.status_code == 200
    assert "switchyard_in_flight_requests" in allowed.text


async def test_metrics_off_exports_no_request_metrics(sim: Simulator, tmp_path: Path) -> None:
    async with running(server_app(sim, tmp_path, telemetry={"metrics": False})) as client:
        await client.post(CHAT, json=ask())
        metrics = await scrape(client)
        snapshot = (await client.get("/health/providers")).json()
    assert "switchyard_requests" not in metrics.families
    assert "switchyard_ledger_buffered_records" in metrics.families
    assert "traffic" not in snapshot["deployments"]["gpt"]
