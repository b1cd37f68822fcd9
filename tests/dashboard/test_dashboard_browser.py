"""The dashboard in a real browser: Debian's headless Chromium, driven by Playwright, against a running gateway
(uvicorn, ledger, cache, master key) that served traffic from the simulator. The page must load without console
errors and show the figures the traffic produced. A screenshot is kept in ``artifacts/dashboard.png``."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from switchyard import parse_config
from switchyard.server.app import GatewayApp
from switchyard.server.services import build_app
from switchyard.simulator import Simulator
from tests.conftest import free_port, sim_config
from tests.telemetry.conftest import MASTER

CHROMIUM = "/usr/bin/chromium"
# No network beyond localhost here: without these, Chromium keeps trying Google's services at start.
FLAGS = [
    "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
ARTIFACT = Path(__file__).resolve().parents[2] / "artifacts" / "dashboard.png"
XSS = '<img src=x onerror="alert(1)">'


@dataclass
class Served:
    url: str
    costs: list[float]
    requests: int
    fell_back: int
    cache_hit_rate: float
    by_feature: dict[str, float]


def usd(value: float) -> str:
    """The page's formatting (dashboard.js ``usd``)."""
    return "$0.00" if value == 0 else f"${value:.2f}" if value >= 0.01 else f"${value:.6f}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"Chromium is not installed at {CHROMIUM}: `apt-get install chromium` (.ci/run and `make "
                    "browser` do it) could not install it on this machine")
    tmp = tmp_path_factory.mktemp("dashboard")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    async def start() -> tuple[Simulator, GatewayApp, uvicorn.Server, asyncio.Future[None], str]:
        sim = Simulator()
        await sim.start()
        config = sim_config(
            sim.base_url,
            ledger={"url": f"sqlite:///{tmp / 'usage.db'}"},
            governance={"master_key": MASTER, "budgets": [{"scope": "global", "limit_usd": 1.0}]},
            cache={"enabled": True},
            resilience={"breaker": {"failures": 1, "cooldown_s": 600}},
        )
        sim.set_faults("openai:gpt-flaky", {"error_rate": 1.0, "error_status": 503})
        port = free_port()
        app = build_app(parse_config(config))
        server = uvicorn.Server(uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False,
        ))
        serving = asyncio.ensure_future(server.serve())
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.005)
        return sim, app, server, serving, f"http://127.0.0.1:{port}"

    sim, app, server, serving, url = run(start())
    cache = app.gateway.cache
    assert cache is not None
    try:
        yield traffic(url, settle=lambda: run(cache.flush()))
    finally:

        async def stop() -> None:
            server.should_exit = True
            await serving
            await sim.stop()

        run(stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def traffic(url: str, settle: Callable[[], None]) -> Served:
    """What the page should show afterwards: every cost the clients were told, fallbacks and cache hits.
    ``settle`` waits for the gateway's background cache writes."""
    auth = {"authorization": f"Bearer {MASTER}"}
    costs: list[float] = []
    outcomes: list[str] = []
    by_feature: dict[str, float] = {}
    sent = [
        ("gpt", "search", "ann", "what is a bill of lading?"),
        ("gpt", "search", "bob", "what is a bill of lading?"),  # the same question: a cache hit, cost 0
        ("claude", "support", "ann", "where is my container?"),
        ("gemini", "support", "cy", "how long does customs take?"),
        ("chain", "triage", "bob", "route this ticket"),  # dead and flaky fail: claude answers
        ("gpt", XSS, "eve", "a feature name is data, not markup"),
    ]
    with httpx.Client(base_url=url, timeout=30) as client:
        for model, feature, user, text in sent:
            response = client.post("/v1/chat/completions", headers={
                **auth, "x-switchyard-features": feature, "x-switchyard-user": user,
            }, json={"model": model, "messages": [{"role": "user", "content": text}]})
            assert response.status_code == 200, response.text
            cost = response.json()["usage"]["cost_usd"]
            costs.append(cost)
            outcomes.append(response.headers["x-switchyard-cache"])
            by_feature[feature] = by_feature.get(feature, 0.0) + cost
            settle()  # the cache stores in the background; the repeat must find it
        with client.stream("POST", "/v1/chat/completions", headers=auth, json={
            "model": "claude", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "stream a short answer"}],
        }) as stream:
            outcomes.append(stream.headers["x-switchyard-cache"])
            lines = [line for line in stream.iter_lines() if line.startswith("data: {")]
        costs.append(float(lines[-1].split('"cost_usd":')[1].split("}")[0]))
        by_feature["(none)"] = costs[-1]
    assert (costs[1], outcomes[1]) == (0.0, "hit")
    hit_rate = outcomes.count("hit") / len([o for o in outcomes if o in ("hit", "miss")])
    return Served(url=url, costs=costs, requests=len(costs), fell_back=1, cache_hit_rate=hit_rate,
                  by_feature=by_feature)


def test_dashboard_shows_the_traffic_in_chromium(served: Served) -> None:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as playwright:
        # Installed but failing to start is a failure, not a skip: only a missing Chromium skips (see the fixture).
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS,
                                             chromium_sandbox=False)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

            page.goto(f"{served.url}/dashboard")
            page.fill("input[name=key]", MASTER)
            page.click("button[type=submit]")
            page.wait_for_selector("body[data-loaded=true]", timeout=15_000)

            total = sum(served.costs)
            spend = page.locator("#total-spend")
            assert float(spend.get_attribute("data-value") or "nan") == pytest.approx(total, rel=1e-9)
            assert spend.inner_text() == usd(total)
            assert page.locator("#total-requests").inner_text() == str(served.requests)
            rate = served.fell_back / served.requests
            assert page.locator("#fallback-rate").inner_text() == f"{rate * 100:.1f}%"
            assert page.locator("#cache-hit-rate").inner_text() == f"{served.cache_hit_rate * 100:.1f}%"

            legend = page.locator("#chart-feature .legend span")
            shown = {legend.nth(i).get_attribute("data-group"): legend.nth(i) for i in range(legend.count())}
            assert set(shown) == set(served.by_feature)
            for feature, cost in served.by_feature.items():
                assert float(shown[feature].get_attribute("data-cost") or "nan") == pytest.approx(cost, rel=1e-9)
            assert shown[XSS].inner_text().startswith(XSS)  # shown as text, never run as markup
            assert page.locator("#chart-feature svg rect").count() > 0

            assert page.locator('#providers tr[data-deployment="dead"] [data-breaker]').inner_text() == "open"
            assert page.locator('#providers tr[data-deployment="claude"] [data-breaker]').inner_text() == "closed"
            assert page.locator('#routes tr[data-route="chain"] [data-fell-back]').inner_text().startswith("1 ")
            latency = page.locator('#latency tr[data-latency="total"] td')
            assert latency.nth(5).inner_text() == str(served.requests)
            assert latency.nth(1).inner_text().endswith(" ms")
            budget = page.locator("#budgets tr[data-budget^='global'] td")
            assert budget.nth(1).inner_text() == usd(total)
            assert page.locator('#cache tr[data-outcome="hit"] td').nth(1).inner_text() == "1"

            ARTIFACT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACT), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert dialogs == []
    assert ARTIFACT.stat().st_size > 10_000
