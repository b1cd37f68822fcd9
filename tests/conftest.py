"""Shared fixtures: a real simulator, gateways configured against it, and a live HTTP gateway."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from aiohttp import web

from switchyard import Gateway, GatewayApp, parse_config
from switchyard.simulator import Simulator

SINGLE_SHOT: dict[str, Any] = {
    "retry": {"max_attempts": 1},
    "breaker": {"failures": 1_000_000, "min_requests": 1_000_000},
}
"""``resilience`` settings for tests of one adapter: every call is one upstream request, and no breaker trips
between tests of error mapping. Retries and breakers have their own tests in ``tests/resilience``."""


def sim_config(base_url: str, **extra: Any) -> dict[str, Any]:
    """A configuration with one deployment per simulated provider, plus routes for fallback tests."""
    config: dict[str, Any] = {
        "providers": {
            "openai": {"type": "openai", "api_key": "sk-test-key", "base_url": f"{base_url}/v1"},
            "azure": {"type": "azure", "api_key": "az-test-key", "base_url": base_url},
            "anthropic": {"type": "anthropic", "api_key": "ant-test-key", "base_url": base_url},
            "gemini": {"type": "gemini", "api_key": "gem-test-key", "base_url": base_url},
            "down": {"type": "openai", "api_key": "sk-test-key", "base_url": "http://127.0.0.1:9/v1"},
        },
        "models": {
            "gpt": {"provider": "openai", "model": "gpt-4o-mini"},
            "azure-gpt": {"provider": "azure", "model": "gpt-4o-prod"},
            "claude": {"provider": "anthropic", "model": "claude-sonnet-4-6"},
            "gemini": {"provider": "gemini", "model": "gemini-2.0-flash"},
            "dead": {"provider": "down", "model": "gpt-4o"},
            "flaky": {"provider": "openai", "model": "gpt-flaky"},
        },
        "routes": {
            "chain": {"targets": ["dead", "flaky"], "fallbacks": ["claude", "gpt"]},
            "only-dead": {"targets": ["dead", "flaky"]},
        },
    }
    config.update(extra)
    return config


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator() as simulator:
        yield simulator


@pytest.fixture
async def gateway(sim: Simulator) -> AsyncIterator[Gateway]:
    async with Gateway(parse_config(sim_config(sim.base_url))) as gw:
        yield gw


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveStack:
    """A simulator and a real uvicorn gateway running on their own event loop in a background thread, so
    synchronous SDK clients can call them from the test thread."""

    sim: Simulator
    gateway_url: str
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)


@pytest.fixture(scope="module")
def live() -> Iterator[LiveStack]:
    with live_stack() as stack:
        yield stack


@contextlib.contextmanager
def live_stack(make_config: Callable[[str], dict[str, Any]] = sim_config) -> Iterator[LiveStack]:
    """A :class:`LiveStack` whose gateway is configured by ``make_config(simulator base URL)``."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[Simulator, uvicorn.Server, asyncio.Future[None], str]:
        simulator = Simulator()
        await simulator.start()
        app = GatewayApp(Gateway(parse_config(make_config(simulator.base_url))))
        server, serving, url = await serve(app)
        return simulator, server, serving, url

    simulator, server, serving, url = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    stack = LiveStack(simulator, url, loop)
    try:
        yield stack
    finally:

        async def stop() -> None:
            server.should_exit = True
            await serving
            await simulator.stop()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


async def serve(app: GatewayApp) -> tuple[uvicorn.Server, asyncio.Future[None], str]:
    """``app`` under uvicorn on a free loopback port, once it accepts connections: the server, its task, its URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False)
    )
    serving = asyncio.ensure_future(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.005)
    return server, serving, f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def serve_routes(*routes: web.RouteDef) -> AsyncIterator[str]:
    """A throwaway aiohttp server on a free loopback port with ``routes`` (an upstream that answers oddly)."""
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def running(app: GatewayApp) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (start-up opens the ledger; shutdown flushes it), behind an httpx client."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.ensure_future(app({"type": "lifespan"}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
            yield client
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
        await task
