"""Every rule fires and resolves, driven by the hooks with an injected clock; dedup, repeats and the guards."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard.alerts import AlertManager, fingerprint
from switchyard.config import AlertsConfig
from tests.alerts.conftest import Clock, delivered

WINDOW = 300.0


def manager(clock: Clock, **config: Any) -> AlertManager:
    # A long tick: these tests call tick() themselves, the background task must not interfere.
    return AlertManager(AlertsConfig(**config), clock=clock, tick_s=3600)


def requests(alerts: AlertManager, clock: Clock, deployment: str | None, *, ok: int = 0, failed: int = 0,
             latency_s: float = 0.2) -> None:
    for i in range(ok + failed):
        alerts.on_request("chat", deployment, i >= failed, latency_s)
        clock.advance(0.5)


def firing(alerts: AlertManager) -> set[tuple[str, tuple[tuple[str, str], ...], str]]:
    return {(a.name, tuple(sorted(a.labels.items())), a.severity) for a in alerts.active()}


GPT_ERRORS = ("SwitchyardErrorRateHigh", (("deployment", "gpt"), ("scope", "deployment")), "warning")
GLOBAL_ERRORS = ("SwitchyardErrorRateHigh", (("scope", "global"),), "critical")


async def test_error_rate_fires_per_deployment_and_globally_then_resolves_when_the_window_empties(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    alerts = manager(clock)
    requests(alerts, clock, "gpt", ok=18, failed=2)  # 10 % of 20
    assert firing(alerts) == {GPT_ERRORS, GLOBAL_ERRORS}
    sent = await delivered(alerts, caplog)
    assert [(a["name"], a["status"]) for a in sent] == [("SwitchyardErrorRateHigh", "firing")] * 2
    gpt = next(a for a in sent if a["labels"].get("deployment") == "gpt")
    assert gpt["value"] == pytest.approx(0.1)
    assert gpt["threshold"] == 0.05
    assert "10.0% of 20 requests to deployment gpt failed in the last 5m" in gpt["summary"]
    started = gpt["started_at"]

    clock.advance(WINDOW + 30)  # no traffic at all: only the periodic tick can notice
    alerts.tick()
    assert alerts.active() == []
    resolved = await delivered(alerts, caplog)
    assert {a["status"] for a in resolved} == {"resolved"}
    gpt_resolved = next(a for a in resolved if a["labels"].get("deployment") == "gpt")
    assert gpt_resolved["fingerprint"] == gpt["fingerprint"]
    assert (gpt_resolved["started_at"], gpt_resolved["ends_at"]) == (started, clock.now)


async def test_error_rate_resolves_when_successes_bring_the_share_back_down(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    alerts = manager(clock)
    requests(alerts, clock, "gpt", ok=18, failed=2)
    requests(alerts, clock, "gpt", ok=20)  # 2 of 40: 5 %, not over 5 %
    assert alerts.active() == []
    assert [a["status"] for a in await delivered(alerts, caplog)] == ["firing", "firing", "resolved", "resolved"]


def test_too_few_requests_never_fire(clock: Clock) -> None:
    alerts = manager(clock)
    requests(alerts, clock, "gpt", ok=1, failed=1)  # 1 failure of 2
    requests(alerts, clock, "claude", failed=17)  # everything failed, but 17 (19 globally) < min_requests
    assert alerts.active() == []
    assert alerts.counters.pending == 0


def test_min_requests_is_configurable_and_exactly_the_threshold_does_not_fire(clock: Clock) -> None:
    alerts = manager(clock, min_requests=40, error_rate=0.1)
    requests(alerts, clock, "gpt", ok=18, failed=2)  # 10 %: equal to the threshold, and too few
    requests(alerts, clock, "gpt", ok=18, failed=2)
    assert alerts.active() == []
    requests(alerts, clock, "gpt", failed=1)
    assert firing(alerts) >= {GPT_ERRORS}


def test_a_firing_alert_does_not_flap_when_traffic_falls_under_the_minimum(clock: Clock) -> None:
    alerts = manager(clock)
    requests(alerts, clock, "gpt", ok=10, failed=10)
    clock.advance(WINDOW - 30)
    requests(alerts, clock, "gpt", failed=1)  # the old requests slide out; one failure in the window
    alerts.tick(clock.now + 40)
    assert GPT_ERRORS in firing(alerts)


def test_a_failing_deployment_does_not_page_globally_when_the_rest_is_healthy(clock: Clock) -> None:
    alerts = manager(clock)
    requests(alerts, clock, "claude", ok=500)
    requests(alerts, clock, "gpt", failed=20)  # 20 of 520 globally: under 5 %
    assert firing(alerts) == {GPT_ERRORS}


def test_requests_without_a_deployment_count_only_globally(clock: Clock) -> None:
    alerts = manager(clock)
    requests(alerts, clock, None, ok=10, failed=10)
    assert firing(alerts) == {GLOBAL_ERRORS}


async def test_latency_fires_when_the_p95_is_over_the_limit(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    alerts = manager(clock)
    requests(alerts, clock, "gpt", ok=19)
    requests(alerts, clock, "gpt", ok=1, latency_s=12.0)  # 1 of 20 slow: p95 is not over 10 s yet
    assert alerts.active() == []
    requests(alerts, clock, "gpt", ok=1, latency_s=42.5)  # 2 of 21: it is
    assert {(a.name, a.labels.get("scope")) for a in alerts.active()} == {
        ("SwitchyardLatencyHigh", "deployment"),
        ("SwitchyardLatencyHigh", "global"),
    }
    [first, _] = await delivered(alerts, caplog)
    assert "p95 latency" in first["summary"]
    assert "slowest 42.5s" in first["summary"]

    clock.advance(WINDOW + 30)
    requests(alerts, clock, "gpt", ok=20)
    assert alerts.active() == []


def test_latency_quantile_one_alerts_on_a_single_slow_request(clock: Clock) -> None:
    alerts = manager(clock, latency_quantile=1.0, min_requests=1, latency_s=5.0)
    requests(alerts, clock, "gpt", ok=50)
    assert alerts.active() == []
    requests(alerts, clock, "gpt", ok=1, latency_s=5.5)
    assert {a.name for a in alerts.active()} == {"SwitchyardLatencyHigh"}


async def test_budget_fires_once_per_window_escalates_and_rearms(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    alerts = manager(clock)
    budget = "team 'search' daily budget ($100.00)"
    alerts.on_budget(budget, 79.0, 100.0, 0.8)
    assert alerts.active() == []
    alerts.on_budget(budget, 80.0, 100.0, 0.8)
    alerts.on_budget(budget, 85.0, 100.0, 0.8)
    clock.advance(2 * 3600)
    alerts.tick()  # spend is a state: it is not repeated while it stays
    alerts.on_budget(budget, 99.0, 100.0, 0.8)
    sent = await delivered(alerts, caplog)
    assert [(a["status"], a["severity"]) for a in sent] == [("firing", "warning")]
    assert sent[0]["labels"] == {"budget": budget}
    assert "$80.00 of $100.00 spent (80%; alert at 80%)" in sent[0]["summary"]

    alerts.on_budget(budget, 100.5, 100.0, 0.8)  # used up: escalated at once, same alert
    alerts.on_budget(budget, 0.3, 100.0, 0.8)  # a new day: resolved, and armed again
    alerts.on_budget(budget, 90.0, 100.0, 0.8)
    sent = await delivered(alerts, caplog)
    assert [(a["status"], a["severity"]) for a in sent] == [
        ("firing", "critical"), ("resolved", "critical"), ("firing", "warning")
    ]
    assert sent[0]["fingerprint"] == sent[1]["fingerprint"] == fingerprint("SwitchyardBudgetSpend", {"budget": budget})
    assert sent[2]["started_at"] > sent[0]["started_at"]


def test_budget_without_its_own_alert_at_uses_spend_ratio(clock: Clock) -> None:
    alerts = manager(clock, spend_ratio=0.5)
    alerts.on_budget("global", 49.0, 100.0)
    assert alerts.active() == []
    alerts.on_budget("global", 50.0, 100.0)
    assert [a.name for a in alerts.active()] == ["SwitchyardBudgetSpend"]
    alerts.on_budget("free", 5.0, 0.0)  # no limit: nothing to alert on
    assert len(alerts.active()) == 1


async def test_provider_down_fires_on_open_and_resolves_on_close(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    alerts = manager(clock)
    alerts.on_breaker("gpt", "closed")
    alerts.on_breaker("gpt", "open")
    alerts.on_breaker("gpt", "half_open")  # probing: still down
    alerts.on_breaker("gpt", "open")
    assert firing(alerts) == {("SwitchyardProviderDown", (("deployment", "gpt"),), "critical")}
    clock.advance(45)
    alerts.on_breaker("gpt", "closed")
    assert alerts.active() == []
    sent = await delivered(alerts, caplog)
    assert [a["status"] for a in sent] == ["firing", "resolved"]
    assert sent[1]["ends_at"] - sent[1]["started_at"] == 45


async def test_firing_alerts_are_not_resent_per_request_but_after_repeat_s(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    alerts = manager(clock, repeat_s=600)
    alerts.on_breaker("claude", "open")
    requests(alerts, clock, "gpt", ok=10, failed=10)
    requests(alerts, clock, "gpt", failed=200)
    first = await delivered(alerts, caplog)
    assert len(first) == 3  # gpt, global, claude: once each

    clock.advance(600)
    requests(alerts, clock, "gpt", failed=20)  # still failing: due again
    alerts.tick()  # the breaker has no requests to report it: the tick repeats it
    alerts.tick()
    again = await delivered(alerts, caplog)
    assert sorted(a["fingerprint"] for a in again) == sorted(a["fingerprint"] for a in first)
    assert {a["status"] for a in again} == {"firing"}
    for before, after in zip(
        sorted(first, key=lambda a: a["fingerprint"]), sorted(again, key=lambda a: a["fingerprint"]), strict=True
    ):
        assert after["started_at"] == before["started_at"]


def test_disabled_alerts_do_nothing(clock: Clock) -> None:
    alerts = manager(clock, enabled=False)
    requests(alerts, clock, "gpt", failed=50, latency_s=60.0)
    alerts.on_budget("global", 500.0, 100.0, 0.8)
    alerts.on_breaker("gpt", "open")
    alerts.tick()
    assert alerts.active() == []
    assert alerts.counters.pending == 0


async def test_hooks_default_to_the_clock_and_start_twice_is_harmless(clock: Clock) -> None:
    async with manager(clock) as alerts:
        await alerts.start()
        alerts.on_breaker("gpt", "open")
        assert alerts.active()[0].started_at == clock.now
