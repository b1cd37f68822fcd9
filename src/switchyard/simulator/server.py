"""The simulator process: one aiohttp server hosting every simulated provider plus a small control API.

Control API (JSON):
- ``GET /_sim/faults`` — the faults in force, by scope;
- ``POST /_sim/faults`` ``{"scope": "openai", "faults": {...}}`` — set one scope (see ``faults.Faults``);
- ``DELETE /_sim/faults`` (optionally ``?scope=openai``) — clear;
- ``GET /_sim/stats`` — requests served per ``provider:model``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import orjson
import yaml
from aiohttp import web

from .anthropic import AnthropicSim
from .base import ProviderSim, SimContext
from .faults import FaultInjector, Faults
from .gemini import GeminiSim
from .openai import AzureOpenAISim, OpenAISim

__all__ = ["SimConfig", "Simulator", "load_sim_config"]

PROVIDER_SIMS: tuple[type[ProviderSim], ...] = (OpenAISim, AzureOpenAISim, AnthropicSim, GeminiSim)


class SimConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    seed: int | None = None
    faults: dict[str, Faults] = msgspec.field(default_factory=dict)


def load_sim_config(path: str | Path) -> SimConfig:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return msgspec.convert(data, SimConfig)


class Simulator:
    """Fake OpenAI, Azure OpenAI, Anthropic and Gemini endpoints on one port.

    Use ``async with Simulator() as sim:`` in tests; ``sim.base_url`` is ``http://127.0.0.1:<port>``.
    Each provider's SDK convention applies: OpenAI clients use ``{base_url}/v1``, Anthropic and Gemini
    clients the bare ``base_url``, Azure clients ``base_url`` as the resource endpoint.
    """

    def __init__(self, config: SimConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        config = config or SimConfig()
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self.context = SimContext(self.faults)
        self.host = host
        self.port = port
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        for sim_class in PROVIDER_SIMS:
            self.app.add_routes(sim_class(self.context).routes())
        self.app.add_routes(
            [
                web.get("/_sim/faults", self._get_faults),
                web.post("/_sim/faults", self._set_faults),
                web.delete("/_sim/faults", self._clear_faults),
                web.get("/_sim/stats", self._stats),
                web.get("/health", self._health),
            ]
        )
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def set_faults(self, scope: str, faults: Faults | dict[str, Any]) -> None:
        if isinstance(faults, dict):
            faults = msgspec.convert(faults, Faults)
        self.faults.set(scope, faults)

    def clear_faults(self, scope: str | None = None) -> None:
        self.faults.clear(scope)

    @property
    def requests(self) -> dict[str, int]:
        return dict(self.context.requests)

    async def start(self) -> str:
        # handler_cancellation: a simulated hang whose client gave up (timed out, disconnected) ends with it;
        # otherwise stop() waits out aiohttp's 60 s shutdown timeout for every hung handler.
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = site._server
        if self.port == 0 and server is not None:
            sockets = getattr(server, "sockets", None) or []
            self.port = sockets[0].getsockname()[1]
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _get_faults(self, request: web.Request) -> web.Response:
        return web.Response(body=msgspec.json.encode(self.faults.snapshot()), content_type="application/json")

    async def _set_faults(self, request: web.Request) -> web.Response:
        try:
            data = orjson.loads(await request.read())
            self.set_faults(str(data["scope"]), msgspec.convert(data.get("faults", {}), Faults))
        except (orjson.JSONDecodeError, KeyError, TypeError, msgspec.ValidationError) as exc:
            return web.json_response({"error": f"expected {{scope, faults}}: {exc}"}, status=400)
        return web.json_response({"ok": True})

    async def _clear_faults(self, request: web.Request) -> web.Response:
        self.clear_faults(request.query.get("scope"))
        return web.json_response({"ok": True})

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({"requests": self.requests})

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})
