"""Helpers for telemetry tests: the real server stack (ledger, admin API) in-process, with its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from switchyard import parse_config
from switchyard.server.app import GatewayApp
from switchyard.server.services import build_app
from switchyard.simulator import Simulator
from tests.conftest import free_port, sim_config

CHAT = "/v1/chat/completions"
MASTER = "sk-master-telemetry-test-0123456789"


def server_app(sim: Simulator, tmp_path: Path, **extra: Any) -> GatewayApp:
    """The ``switchyard serve`` stack over the simulator, with a SQLite ledger in ``tmp_path``. ``models`` and
    ``routes`` in ``extra`` are added to the simulator configuration's; other sections replace theirs."""
    config = sim_config(sim.base_url, ledger={"url": f"sqlite:///{tmp_path / 'usage.db'}"})
    for section, value in extra.items():
        if section in ("models", "routes"):
            config[section].update(value)
        else:
            config[section] = value
    return build_app(parse_config(config))


def ask(model: str = "gpt", text: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


class Collector:
    """Accepts OTLP/HTTP trace exports, as a collector would, and keeps the decoded requests."""

    def __init__(self) -> None:
        self.received: list[ExportTraceServiceRequest] = []
        self.url = ""

    async def traces(self, request: web.Request) -> web.Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        self.received.append(message)
        return web.Response(body=b"", content_type="application/x-protobuf")

    def span_names(self) -> list[str]:
        return [s.name for m in self.received for r in m.resource_spans for ss in r.scope_spans for s in ss.spans]


@pytest.fixture
async def collector() -> AsyncIterator[Collector]:
    found = Collector()
    app = web.Application()
    app.router.add_post("/v1/traces", found.traces)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    found.url = f"http://127.0.0.1:{port}/v1/traces"
    try:
        yield found
    finally:
        await runner.cleanup()
