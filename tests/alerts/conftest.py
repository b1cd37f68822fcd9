"""Fixtures for alert tests: a settable clock and a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

from switchyard.alerts import AlertManager


class Clock:
    """Unix time that only moves when a test moves it."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@dataclass
class Hit:
    path: str
    query: str
    body: dict[str, Any]


@dataclass
class Receiver:
    """A webhook endpoint. ``statuses`` are answered in order (then 200); with ``hold`` cleared, requests wait."""

    base_url: str
    statuses: list[int] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    hold: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    """Set on every request."""

    def url(self, path: str = "/hook") -> str:
        return f"{self.base_url}{path}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver(base_url="")
    state.hold.set()

    async def hook(request: web.Request) -> web.Response:
        state.hits.append(Hit(request.path, request.query_string, orjson.loads(await request.read())))
        state.arrived.set()
        await state.hold.wait()
        status = state.statuses.pop(0) if state.statuses else 200
        return web.Response(status=status, text="ok" if status < 300 else "nope")

    app = web.Application()
    app.add_routes([web.post("/{tail:.*}", hook)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.base_url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        state.hold.set()
        await runner.cleanup()


async def delivered(manager: AlertManager, caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """Deliver everything the manager has queued (start, then flush with aclose) and return the alerts that were
    logged since the last call, as their structured fields."""
    caplog.set_level(logging.INFO, logger="switchyard.alerts")
    await manager.start()
    await manager.aclose()
    alerts = [r.alert for r in caplog.records if r.name == "switchyard.alerts" and hasattr(r, "alert")]
    caplog.clear()
    return alerts
