"""The gateway's accounting hooks: spend alerts from settled budgets, breaker alerts, the open-gateway warning."""

from __future__ import annotations

import asyncio
import logging

import pytest
from tests.conftest import sim_config

from switchyard import ChatRequest, Gateway, Message, parse_config
from switchyard.errors import SwitchyardError
from switchyard.server.app import GatewayApp
from switchyard.simulator import Faults, Simulator


def ask(model: str = "gpt") -> ChatRequest:
    return ChatRequest(model=model, messages=[Message.user("hello there")], max_tokens=20)


async def test_spend_crossing_alert_at_fires_a_budget_alert(sim: Simulator) -> None:
    budgets = [{"scope": "global", "limit_usd": 0.00004, "window": "daily", "hard": False, "alert_at": 0.5}]
    async with Gateway(parse_config(sim_config(sim.base_url, governance={"budgets": budgets}))) as gateway:
        for _ in range(8):
            await gateway.chat(ask())
        await asyncio.sleep(0.05)  # settlement runs in the background
        names = {alert.name for alert in gateway.alerts.active()}
    assert "SwitchyardBudgetSpend" in names


async def test_an_open_breaker_raises_a_provider_down_alert(sim: Simulator) -> None:
    sim.set_faults("openai:gpt-4o-mini", Faults(error_rate=1.0, error_status=503))
    config = sim_config(sim.base_url, resilience={"retry": {"max_attempts": 1}, "breaker": {"failures": 2}})
    async with Gateway(parse_config(config)) as gateway:
        for _ in range(3):
            with pytest.raises(SwitchyardError):
                await gateway.chat(ask())
        down = [a for a in gateway.alerts.active() if a.name == "SwitchyardProviderDown"]
    assert [a.labels["deployment"] for a in down] == ["gpt"]


async def test_an_open_gateway_says_so_loudly_at_start(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    app = GatewayApp(Gateway(parse_config(sim_config(sim.base_url))))
    with caplog.at_level(logging.WARNING, logger="switchyard.governance"):
        await app.auth.start()
    assert any("running OPEN" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    await app.gateway.aclose()
