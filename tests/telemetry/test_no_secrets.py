"""Secrets appear in no log record, metric, span, error or admin/dashboard answer: traffic with known provider
keys, master key, virtual key, webhook token and collector token goes through the full server stack with body
logging and tracing on, and every output is searched for each secret."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from switchyard import parse_config
from switchyard.server.services import build_app
from switchyard.simulator import Simulator
from switchyard.telemetry.logs import JsonFormatter
from tests.conftest import running, sim_config

from .conftest import CHAT, Collector, ask

PROVIDER_KEYS = {
    "openai": "sk-proj-OPENAIsecret0123456789abcdef",
    "azure": "azSECRETkey0123456789abcdef0123",
    "anthropic": "sk-ant-api03-ANTHROPICsecret0123456789",
    "gemini": "AIzaGEMINIsecret0123456789abcdefghijklm",
    "down": "sk-DOWNsecret0123456789abcdefghij",
}
MASTER = "sk-master-SECRET-0123456789abcdef"
WEBHOOK_TOKEN = "hookTOKENsecret0123456789"
COLLECTOR_TOKEN = "collectorTOKENsecret0123456789"


class Everything(logging.Handler):
    """Keeps every record any logger emits, raw (before any formatter could mask something)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        out = []
        for record in self.records:
            out.append(record.getMessage())
            out.append(orjson.dumps(getattr(record, "switchyard", None), default=str).decode())
            if record.exc_info:
                out.append(logging.Formatter().formatException(record.exc_info))
            out.append(JsonFormatter().format(record))
        return "\n".join(out)


def config(sim: Simulator, tmp_path: Path, collector: Collector) -> dict[str, Any]:
    base = sim_config(
        sim.base_url,
        ledger={"url": f"sqlite:///{tmp_path / 'usage.db'}"},
        governance={"master_key": MASTER},
        alerts={"webhooks": [f"http://127.0.0.1:9/hooks/{WEBHOOK_TOKEN}"], "min_requests": 1, "error_rate": 0.01},
        resilience={"breaker": {"failures": 1}},
        telemetry={
            "log_bodies": True,
            "tracing": {"enabled": True, "otlp_endpoint": collector.url,
                        "headers": {"authorization": f"Bearer {COLLECTOR_TOKEN}"}},
        },
    )
    for name, key in PROVIDER_KEYS.items():
        base["providers"][name]["api_key"] = key
    return base


async def test_no_secret_in_logs_metrics_spans_errors_or_admin_answers(
    sim: Simulator, tmp_path: Path, collector: Collector
) -> None:
    app = build_app(parse_config(config(sim, tmp_path, collector)))
    assert app.gateway.telemetry.tracing is not None
    spans = InMemorySpanExporter()
    app.gateway.telemetry.tracing.provider.add_span_processor(SimpleSpanProcessor(spans))
    records = Everything()
    root = logging.getLogger()
    root.addHandler(records)
    level = root.level
    root.setLevel(logging.DEBUG)
    answers: list[str] = []
    try:
        async with running(app) as client:
            admin = {"authorization": f"Bearer {MASTER}"}
            created = await client.post("/admin/keys", headers=admin, json={"name": "ci", "features": ["search"]})
            virtual = created.json()["secret"]
            auth = {"authorization": f"Bearer {virtual}"}
            leaky = f"my keys: {virtual} {MASTER} {PROVIDER_KEYS['openai']} {PROVIDER_KEYS['anthropic']}"
            sim.set_faults("openai:gpt-flaky", {"error_rate": 1.0, "error_status": 401})
            responses = [
                await client.post(CHAT, json=ask("gpt", leaky), headers=auth),
                await client.post(CHAT, json=ask("claude", leaky), headers={"x-api-key": virtual}),
                await client.post(CHAT, json=ask("gemini"), headers=auth),
                await client.post(CHAT, json=ask("azure-gpt"), headers=auth),
                await client.post(CHAT, json=ask("chain", leaky), headers=auth),  # dead, a 401, then claude
                await client.post(CHAT, json=ask("only-dead"), headers=auth),
                await client.post(CHAT, json=ask("gpt", stream=True), headers=auth),
                await client.post(CHAT, json=ask(), headers={"authorization": "Bearer sk-wrong-0123456789abcdef"}),
                await client.post(CHAT, json=ask()),
            ]
            await asyncio.sleep(0.2)  # alert deliveries to the (unreachable) webhook are attempted and logged
            for path in ("/metrics", "/health/providers", "/admin/metrics", "/admin/dashboard", "/admin/state",
                         "/admin/keys", "/admin/usage?by=key"):
                responses.append(await client.get(path, headers=admin))
            responses.append(await client.get("/dashboard/data", headers=admin))
            answers = [f"{r.status_code} {dict(r.headers)} {r.text}" for r in responses]
    finally:
        root.removeHandler(records)
        root.setLevel(level)
    statuses = [int(a.split(" ", 1)[0]) for a in answers]
    assert statuses[:4] == [200, 200, 200, 200]
    assert statuses[7:9] == [401, 401]
    assert all(s == 200 for s in statuses[9:])
    request_lines = [r for r in records.records if r.name == "switchyard.requests"]
    assert len(request_lines) >= 9
    assert any("request_body" in getattr(r, "switchyard", {}) for r in request_lines)  # bodies were logged...
    span_text = "\n".join(s.to_json() for s in spans.get_finished_spans())
    assert "chat gpt" in span_text
    outputs = {
        "logs": records.text(),
        "metrics": answers[9],
        "spans": span_text,
        "collector": "\n".join(str(m) for m in collector.received),
        # The chat answers echo the client's own prompt (the simulator repeats it): only errors and the admin,
        # metrics and dashboard answers are ours to check.
        "responses": "\n".join(a for i, a in enumerate(answers) if i >= 9 or not a.startswith("200")),
    }
    secrets = [*PROVIDER_KEYS.values(), MASTER, virtual, WEBHOOK_TOKEN, COLLECTOR_TOKEN]
    for where, text in outputs.items():
        for secret in secrets:
            assert secret not in text, f"{secret[:8]}… found in {where}"
    # ...with the secrets the client pasted into them masked.
    assert "[REDACTED]" in outputs["logs"]
    assert virtual not in (await asyncio.to_thread((tmp_path / "usage.db").read_bytes)).decode("latin-1")


@pytest.fixture(autouse=True)
def _no_stray_handlers() -> None:
    # The test adds its handler to the root logger itself and removes it; nothing else is left behind.
    assert not any(isinstance(h, Everything) for h in logging.getLogger().handlers)
