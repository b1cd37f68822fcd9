"""Governance over HTTP: keys, limits, budgets, costs and the ledger, through the real server stack (services,
admin API, SQLite ledger) against the simulator."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.conftest import running, sim_config

from switchyard import parse_config
from switchyard.governance.ledger import open_database
from switchyard.server.app import GatewayApp
from switchyard.server.services import build_app
from switchyard.simulator import Simulator

CHAT = "/v1/chat/completions"
MASTER = "sk-master-test-only"


def app_for(sim: Simulator, tmp_path: Path, **extra: Any) -> GatewayApp:
    config = sim_config(sim.base_url, ledger={"url": f"sqlite:///{tmp_path / 'usage.db'}"}, **extra)
    config["models"]["tiny"] = {"provider": "openai", "model": "gpt-4.1-nano"}
    return build_app(parse_config(config))


def ask(model: str = "gpt", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hello there"}], **extra}


async def ledger_rows(tmp_path: Path) -> list[Any]:
    async with open_database(f"sqlite:///{tmp_path / 'usage.db'}") as db:
        return await db.fetch_usage()


async def test_open_gateway_prices_every_answer_and_records_it(sim: Simulator, tmp_path: Path) -> None:
    async with running(app_for(sim, tmp_path)) as client:
        resp = await client.post(CHAT, json=ask(), headers={"x-switchyard-features": "search, summarise"})
        unknown = await client.post(CHAT, json=ask("flaky"))
    assert resp.status_code == 200
    usage = resp.json()["usage"]
    expected = (usage["prompt_tokens"] * 0.15 + usage["completion_tokens"] * 0.60) / 1e6
    assert usage["cost_usd"] == pytest.approx(expected)
    assert float(resp.headers["x-switchyard-cost-usd"]) == pytest.approx(expected, abs=1e-8)
    assert float(resp.headers["x-switchyard-cost-estimate-usd"]) >= expected
    # A model the catalog does not know costs "unknown", never $0.
    assert unknown.headers["x-switchyard-cost-usd"] == "unknown"
    assert unknown.json()["usage"]["cost_usd"] is None
    rows = {r.request_id: r for r in await ledger_rows(tmp_path)}
    row = rows[resp.headers["x-request-id"]]
    assert (row.model, row.provider, row.status) == ("gpt-4o-mini", "openai", 200)
    assert row.features == ["search", "summarise"]
    assert row.cost_usd == pytest.approx(expected)
    assert rows[unknown.headers["x-request-id"]].cost_usd is None


async def test_keys_are_required_created_and_revoked(sim: Simulator, tmp_path: Path) -> None:
    app = app_for(sim, tmp_path, governance={"master_key": MASTER})
    admin = {"authorization": f"Bearer {MASTER}"}
    async with running(app) as client:
        missing = await client.post(CHAT, json=ask())
        assert missing.status_code == 401
        assert "missing API key" in missing.json()["error"]["message"]
        created = await client.post("/admin/keys", headers=admin, json={"name": "ci", "team": "search"})
        assert created.status_code == 201
        secret, key_id = created.json()["secret"], created.json()["id"]
        ok = await client.post(CHAT, json=ask(), headers={"authorization": f"Bearer {secret}"})
        assert ok.status_code == 200
        # The Anthropic SDK's header works too.
        assert (await client.post(CHAT, json=ask(), headers={"x-api-key": secret})).status_code == 200
        listed = (await client.get("/admin/keys", headers=admin)).json()["data"]
        assert [k["name"] for k in listed] == ["ci"]
        assert secret not in orjson.dumps(listed).decode()
        assert (await client.get("/admin/keys", headers={"authorization": f"Bearer {secret}"})).status_code == 401
        assert (await client.delete(f"/admin/keys/{key_id}", headers=admin)).status_code == 200
        revoked = await client.post(CHAT, json=ask(), headers={"authorization": f"Bearer {secret}"})
        assert revoked.status_code == 401
        assert "revoked" in revoked.json()["error"]["message"]
        report = (await client.get("/admin/usage?by=team", headers=admin)).json()
    rows = {r["group"]: r for r in report["data"]}
    assert rows["search"]["requests"] == 2


async def test_rate_limit_answers_429_with_retry_after_and_headers(sim: Simulator, tmp_path: Path) -> None:
    app = app_for(sim, tmp_path, governance={"master_key": MASTER})
    async with running(app) as client:
        created = await client.post(
            "/admin/keys", headers={"authorization": f"Bearer {MASTER}"}, json={"name": "slow", "limits": {"rpm": 2}}
        )
        auth = {"authorization": f"Bearer {created.json()['secret']}"}
        first = await client.post(CHAT, json=ask(), headers=auth)
        await client.post(CHAT, json=ask(), headers=auth)
        third = await client.post(CHAT, json=ask(), headers=auth)
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert third.status_code == 429
    assert 59 <= int(third.headers["retry-after"]) <= 60
    error = third.json()["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert "2 requests per minute" in error["message"]


async def test_budget_rejects_with_402_naming_the_budget(sim: Simulator, tmp_path: Path) -> None:
    budgets = [{"scope": "user", "name": "alice", "limit_usd": 0.00001, "window": "daily"}]
    async with running(app_for(sim, tmp_path, governance={"budgets": budgets})) as client:
        bob = await client.post(CHAT, json=ask(user="bob"))
        alice = await client.post(CHAT, json=ask(user="alice"))
    assert bob.status_code == 200
    assert alice.status_code == 402
    error = alice.json()["error"]
    assert error["code"] == "budget_exceeded"
    assert error["budget"] == "user 'alice' daily budget ($0.00001)"
    assert "resets" in error["message"]
    assert error["resets_at"] > 0


async def test_max_cost_rejects_before_calling(sim: Simulator, tmp_path: Path) -> None:
    async with running(app_for(sim, tmp_path)) as client:
        header = await client.post(CHAT, json=ask(max_tokens=1000), headers={"x-switchyard-max-cost": "0.0000001"})
        body = await client.post(CHAT, json=ask(max_tokens=1000, max_cost="lots"))
    assert header.status_code == 400
    assert header.json()["error"]["code"] == "max_cost_exceeded"
    assert body.status_code == 400
    assert "max_cost must be a number" in body.json()["error"]["message"]
    assert sim.requests == [] or all(r.get("max_cost") is None for r in sim.requests)


async def test_stream_is_costed_when_it_ends(sim: Simulator, tmp_path: Path) -> None:
    async with running(app_for(sim, tmp_path)) as client:
        resp = await client.post(CHAT, json=ask(stream=True, stream_options={"include_usage": True}))
    events = [line[6:] for line in resp.text.splitlines() if line.startswith("data: ")]
    usage = orjson.loads(events[-2])["usage"]
    expected = (usage["prompt_tokens"] * 0.15 + usage["completion_tokens"] * 0.60) / 1e6
    assert usage["cost_usd"] == pytest.approx(expected)
    row = next(r for r in await ledger_rows(tmp_path) if r.request_id == resp.headers["x-request-id"])
    assert row.stream
    assert row.cost_usd == pytest.approx(expected)


async def test_tiered_route_says_which_tier_served(sim: Simulator, tmp_path: Path) -> None:
    routes = {"smart": {"targets": ["gpt"], "tiers": [
        {"min_remaining": 0.5, "targets": ["gpt"], "name": "quality"},
        {"min_remaining": 0.0, "targets": ["tiny"], "name": "economy"},
    ]}}
    budgets = [{"scope": "global", "limit_usd": 0.00005, "window": "daily"}]
    async with running(app_for(sim, tmp_path, routes=routes, governance={"budgets": budgets})) as client:
        tiers = []
        for _ in range(6):
            resp = await client.post(CHAT, json=ask("smart", max_tokens=20))
            tiers.append(resp.headers.get("x-switchyard-tier", str(resp.status_code)))
            await asyncio.sleep(0.01)  # settlement runs after the response
    assert tiers[0] == "quality"
    assert "economy" in tiers


async def test_admin_reports_budgets_and_state(sim: Simulator, tmp_path: Path) -> None:
    budgets = [
        {"scope": "team", "name": "search", "limit_usd": 5, "window": "monthly"},
        {"scope": "global", "limit_usd": 9},
    ]
    app = app_for(sim, tmp_path, governance={"master_key": MASTER, "budgets": budgets})
    admin = {"authorization": f"Bearer {MASTER}"}
    async with running(app) as client:
        created = await client.post("/admin/keys", headers=admin, json={"name": "s", "team": "search"})
        auth = {"authorization": f"Bearer {created.json()['secret']}"}
        answer = await client.post(CHAT, json=ask(), headers=auth)
        await asyncio.sleep(0.05)  # settlement runs after the response
        report = (await client.get("/admin/budgets", headers=admin)).json()["data"]
        state = (await client.get("/admin/state", headers=admin)).json()
        bad = await client.get("/admin/usage?by=nonsense", headers=admin)
    spent = {row["budget"]: row["spent_usd"] for row in report}
    cost = float(answer.headers["x-switchyard-cost-usd"])
    assert spent["team 'search' monthly budget ($5.00)"] == pytest.approx(cost)
    assert spent["global monthly budget ($9.00)"] == pytest.approx(cost)
    assert state["ledger"]["healthy"] is True
    assert bad.status_code == 400


async def test_admin_api_is_off_without_a_master_key(sim: Simulator, tmp_path: Path) -> None:
    async with running(app_for(sim, tmp_path)) as client:
        resp = await client.get("/admin/keys", headers={"authorization": "Bearer anything"})
    assert resp.status_code == 403
    assert "set governance.master_key" in resp.json()["error"]["message"]
