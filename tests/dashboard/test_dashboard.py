"""The dashboard's HTTP side in-process: sign-in (form, link, bearer), the session cookie, assets and headers,
and the JSON it draws from (``/dashboard/data``, ``/admin/dashboard``, ``/admin/metrics``)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from switchyard.server.dashboard import COOKIE, SESSION_S
from switchyard.simulator import Simulator
from tests.conftest import running
from tests.telemetry.conftest import CHAT, MASTER, ask, server_app


async def test_sign_in_with_the_form_sets_a_session_cookie(sim: Simulator, tmp_path: Path) -> None:
    async with running(server_app(sim, tmp_path, governance={"master_key": MASTER})) as client:
        page = await client.get("/dashboard")
        assert page.status_code == 200
        assert 'action="/dashboard/login"' in page.text
        assert (await client.get("/dashboard/data")).status_code == 401
        wrong = await client.post("/dashboard/login", data={"key": "sk-not-the-master"})
        assert wrong.status_code == 401
        assert "not the master key" in wrong.text
        signed = await client.post("/dashboard/login", data={"key": MASTER})
        assert signed.status_code == 303
        assert signed.headers["location"] == "/dashboard"
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Path=/dashboard" in cookie
        assert MASTER not in cookie
        client.cookies.set(COOKIE, signed.cookies[COOKIE])
        dashboard = await client.get("/dashboard")
        data = await client.get("/dashboard/data")
        logout = await client.get("/dashboard/logout")
    assert '<script src="/dashboard/dashboard.js"' in dashboard.text
    assert data.status_code == 200
    assert "Max-Age=0" in logout.headers["set-cookie"]


async def test_a_key_in_the_link_is_exchanged_and_dropped_from_the_url(sim: Simulator, tmp_path: Path) -> None:
    async with running(server_app(sim, tmp_path, governance={"master_key": MASTER})) as client:
        response = await client.get("/dashboard", params={"key": MASTER})
        bearer = await client.get("/dashboard/data", headers={"authorization": f"Bearer {MASTER}"})
        client.cookies.clear()
        client.cookies.set(COOKIE, "99999999999.deadbeef")
        forged = await client.get("/dashboard/data")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    assert COOKIE in response.headers["set-cookie"]
    assert bearer.status_code == 200
    assert forged.status_code == 401


def test_sessions_expire_and_are_bound_to_the_master_key(sim: Simulator, tmp_path: Path) -> None:
    app = server_app(sim, tmp_path, governance={"master_key": MASTER})
    other = server_app(sim, tmp_path, governance={"master_key": MASTER + "-rotated"})
    token = app.dashboard.session()
    assert app.dashboard.valid(token)
    assert not other.dashboard.valid(token)
    assert not app.dashboard.valid(app.dashboard.session(now=0))
    assert int(token.split(".")[0]) == pytest.approx(time.time() + SESSION_S, abs=5)
    expires, signature = token.split(".")
    tampered = ("1" if signature[0] == "0" else "0") + signature[1:]  # always a different first digit
    assert not app.dashboard.valid(f"{expires}.{tampered}")


async def test_an_open_gateway_has_an_open_dashboard(sim: Simulator, tmp_path: Path) -> None:
    async with running(server_app(sim, tmp_path)) as client:
        page = await client.get("/dashboard")
        data = await client.get("/dashboard/data")
        script = await client.get("/dashboard/dashboard.js")
        style = await client.get("/dashboard/dashboard.css")
        missing = await client.get("/dashboard/nothing-here")
    assert "dashboard.js" in page.text
    assert data.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert script.headers["content-type"].startswith("text/javascript")
    assert style.headers["content-type"].startswith("text/css")
    assert missing.status_code == 404


async def test_dashboard_json_holds_spend_health_fallbacks_cache_and_latency(sim: Simulator, tmp_path: Path) -> None:
    sim.set_faults("openai:gpt-flaky", {"error_rate": 1.0, "error_status": 503})
    extra = {"governance": {"master_key": MASTER, "budgets": [{"scope": "global", "limit_usd": 10.0}]}}
    async with running(server_app(sim, tmp_path, **extra)) as client:
        admin = {"authorization": f"Bearer {MASTER}"}
        answers = [
            await client.post(CHAT, json=ask(), headers={**admin, "x-switchyard-features": "search",
                                                         "x-switchyard-user": "ann"}),
            await client.post(CHAT, json=ask("claude"), headers={**admin, "x-switchyard-features": "chat"}),
            await client.post(CHAT, json=ask("chain"), headers=admin),
        ]
        report = (await client.get("/admin/dashboard?range=1h&buckets=6", headers=admin)).json()
        metrics = (await client.get("/admin/metrics", headers=admin)).json()
        bad = await client.get("/admin/dashboard?range=forever", headers=admin)
        health = (await client.get("/health/providers")).json()
    costs = [a.json()["usage"]["cost_usd"] for a in answers]
    spend = report["spend"]
    assert spend["requests"] == 3
    assert spend["total_usd"] == pytest.approx(sum(costs))
    assert len(spend["buckets"]) == len(spend["series_usd"]) == 6
    features = {g["group"]: g for g in spend["by"]["feature"]}
    assert features["search"]["cost_usd"] == pytest.approx(costs[0])
    assert features["chat"]["cost_usd"] == pytest.approx(costs[1])
    assert features["(none)"]["cost_usd"] == pytest.approx(costs[2])
    assert {g["group"] for g in spend["by"]["user"]} == {"ann", "(none)"}
    assert {g["group"] for g in spend["by"]["provider"]} == {"openai", "anthropic"}
    assert sum(sum(g["series"]) for g in spend["by"]["model"]) == pytest.approx(sum(costs))
    assert report["health"]["dead"]["breaker"] in ("closed", "open")
    totals = report["telemetry"]["totals"]
    assert (totals["requests"], totals["fell_back"]) == (3, 1)
    assert totals["fallback_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert report["telemetry"]["latency"]["total"]["count"] == 3
    assert report["telemetry"]["latency"]["total"]["p50_ms"] > 0
    assert report["budgets"][0]["spent_usd"] == pytest.approx(sum(costs))
    assert metrics["totals"]["requests"] == 3
    assert metrics["routes"]["chain"]["fell_back"] == 1
    assert bad.status_code == 400
    # /health/providers carries the same per-deployment figures.
    assert health["deployments"]["claude"]["traffic"] == metrics["deployments"]["claude"]
    assert health["deployments"]["claude"]["traffic"]["requests"] == 2


async def test_dashboard_without_a_ledger_still_shows_the_replica(sim: Simulator, tmp_path: Path) -> None:
    async with running(server_app(sim, tmp_path, ledger={"enabled": False})) as client:
        await client.post(CHAT, json=ask())
        data = (await client.get("/dashboard/data")).json()
    assert "ledger is off" in data["spend"]["error"]
    assert data["telemetry"]["totals"]["requests"] == 1
