"""Delivery to a real webhook receiver on 127.0.0.1: payload, retries, giving up, secrets, the queue bound and
flushing on close."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

import pytest

from switchyard.alerts import Alert, AlertManager, fingerprint, redact_url
from switchyard.alerts.delivery import Dispatcher
from switchyard.config import AlertsConfig, Secret
from tests.alerts.conftest import Clock, Receiver
from tests.conftest import free_port


def alert(name: str = "SwitchyardProviderDown", deployment: str = "gpt") -> Alert:
    labels = {"deployment": deployment}
    return Alert(
        name=name, status="firing", severity="critical", summary=f"breaker of {deployment} is open", labels=labels,
        fingerprint=fingerprint(name, labels), started_at=1_750_000_000.0, value=1.0, threshold=1.0,
    )


def dispatcher(*urls: str, **options: float) -> Dispatcher:
    settings: dict[str, float] = {"attempts": 3, "backoff_s": 0.01, "timeout_s": 2.0, **options}
    return Dispatcher(
        [Secret(u) for u in urls], attempts=int(settings["attempts"]), backoff_s=settings["backoff_s"],
        timeout_s=settings["timeout_s"], queue_size=int(settings.get("queue_size", 100)),
    )


async def test_the_manager_posts_slack_compatible_json(receiver: Receiver, clock: Clock) -> None:
    config = AlertsConfig(webhooks=[Secret(receiver.url("/services/T1/B2"))])
    async with AlertManager(config, clock=clock) as alerts:
        alerts.on_breaker("gpt", "open")
        clock.advance(60)
        alerts.on_breaker("gpt", "closed")
    assert [hit.path for hit in receiver.hits] == ["/services/T1/B2"] * 2
    fired, resolved = (hit.body for hit in receiver.hits)
    assert fired["text"].startswith("[FIRING:critical] SwitchyardProviderDown deployment=gpt: ")
    assert resolved["text"].startswith("[RESOLVED:critical] SwitchyardProviderDown deployment=gpt: ")
    assert {k: fired[k] for k in ("name", "status", "severity", "labels")} == {
        "name": "SwitchyardProviderDown", "status": "firing", "severity": "critical", "labels": {"deployment": "gpt"},
    }
    assert fired["fingerprint"] == resolved["fingerprint"]
    assert (resolved["ends_at"] - resolved["started_at"], fired["ends_at"]) == (60, None)
    assert alerts.counters.sent == 2
    assert alerts.counters.failed == 0


async def test_a_server_error_is_retried_until_it_passes(receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    sender = dispatcher(receiver.url())
    await sender.start()
    sender.submit(alert())
    await sender.aclose()
    assert len(receiver.hits) == 3
    assert (sender.sent, sender.failed, sender.dropped) == (1, 0, 0)


async def test_gives_up_after_the_last_attempt_and_counts_it(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [500] * 3
    sender = dispatcher(receiver.url(), attempts=3)
    await sender.start()
    sender.submit(alert())
    sender.submit(alert(deployment="claude"))  # the next alert is still delivered
    await sender.aclose()
    assert len(receiver.hits) == 4
    assert (sender.sent, sender.failed) == (1, 1)
    [gave_up] = [r for r in caplog.records if "gave up" in r.getMessage()]
    assert gave_up.levelno == logging.WARNING
    assert "after 3 attempt(s): HTTP 500" in gave_up.getMessage()


async def test_a_refused_request_is_not_retried(receiver: Receiver) -> None:
    receiver.statuses = [404]
    sender = dispatcher(receiver.url())
    await sender.start()
    sender.submit(alert())
    await sender.aclose()
    assert (len(receiver.hits), sender.failed) == (1, 1)


async def test_an_unreachable_webhook_does_not_stop_the_others(receiver: Receiver) -> None:
    sender = dispatcher(f"http://127.0.0.1:{free_port()}/hook", receiver.url(), attempts=2)
    await sender.start()
    sender.submit(alert())
    await sender.aclose()
    assert len(receiver.hits) == 1
    assert (sender.sent, sender.failed) == (1, 1)


async def test_secrets_in_webhook_urls_never_reach_the_log(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    host = receiver.base_url.removeprefix("http://")
    working = f"http://bot:pw-SECRET1@{host}/services/SECRET2?token=SECRET3"
    failing = f"http://{host}/hooks/SECRET4?sig=SECRET5"
    refused = f"http://u:SECRET6@127.0.0.1:{free_port()}/SECRET7?k=SECRET8"
    receiver.statuses = [200, 500, 500]  # the first alert's two webhooks answer in either order; one fails twice
    config = AlertsConfig(webhooks=[Secret(working), Secret(failing), Secret(refused)])
    assert "SECRET" not in repr(config)
    alerts = AlertManager(config, webhook_attempts=2, webhook_backoff_s=0.01)
    await alerts.start()
    alerts.on_breaker("gpt", "open")
    await alerts.aclose()
    # The refused one, and whichever of the other two got the 500s; the third got the 200.
    assert (alerts.counters.sent, alerts.counters.failed) == (1, 2)
    logged = [
        (r.getMessage(), str(r.args), str(r.__dict__.get("alert")), r.exc_text or "") for r in caplog.records
    ]
    assert any("gave up" in message for message, *_ in logged)
    assert "SECRET" not in repr(logged)
    assert redact_url(working) == f"http://{host}/…"


def test_redact_url_keeps_only_scheme_host_and_port() -> None:
    assert redact_url("https://user:pass@hooks.example.com:8443/a/b?c=d#e") == "https://hooks.example.com:8443/…"
    assert redact_url("http://[::1]:notaport/x") == "<invalid url>"


async def test_a_full_queue_drops_and_counts(receiver: Receiver) -> None:
    sender = dispatcher(receiver.url(), queue_size=2)
    for name in ("a", "b", "c", "d", "e"):
        sender.submit(alert(deployment=name))  # nothing drains yet: submit must not block
    assert (sender.pending, sender.dropped) == (2, 3)
    await sender.start()
    await sender.aclose()
    assert [hit.body["labels"]["deployment"] for hit in receiver.hits] == ["a", "b"]
    assert (sender.sent, sender.dropped, sender.pending) == (2, 3, 0)


async def test_aclose_flushes_everything_queued_in_order(receiver: Receiver) -> None:
    sender = dispatcher(receiver.url())
    await sender.start()
    names = [f"d{i}" for i in range(20)]
    for name in names:
        sender.submit(alert(deployment=name))
    await sender.aclose()
    assert [hit.body["labels"]["deployment"] for hit in receiver.hits] == names
    assert sender.sent == 20


async def test_aclose_gives_up_on_a_hung_receiver_within_its_timeout(receiver: Receiver) -> None:
    receiver.hold.clear()  # the receiver accepts requests and never answers
    sender = dispatcher(receiver.url(), timeout_s=30.0)
    await sender.start()
    for name in ("a", "b", "c"):
        sender.submit(alert(deployment=name))
    await asyncio.wait_for(receiver.arrived.wait(), 5)
    started = time.monotonic()
    await sender.aclose(timeout_s=0.2)
    assert time.monotonic() - started < 5
    assert (sender.sent, sender.failed, sender.dropped, sender.pending) == (0, 1, 2, 0)


async def test_alerts_without_webhooks_are_still_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="switchyard.alerts")
    sender = dispatcher()
    await sender.start()
    sender.submit(alert())
    sender.submit(dataclasses.replace(alert(), status="resolved", ends_at=1_750_000_060.0))
    await sender.aclose()
    records = [r for r in caplog.records if r.name == "switchyard.alerts"]
    assert [(r.levelno, r.alert["status"]) for r in records] == [
        (logging.WARNING, "firing"),
        (logging.INFO, "resolved"),
    ]
    assert "alert firing SwitchyardProviderDown severity=critical" in records[0].getMessage()
    assert sender.sent == 0


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="queue_size"):
        Dispatcher([], queue_size=0)
