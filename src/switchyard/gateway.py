"""The pipeline for one request, and the embeddable library's entry point.

The HTTP server is a thin skin over :class:`Gateway`: both run the same steps — plan (which deployments, in
what order), execute (try them, falling back on failures that allow it) — and later steps (admission,
caching, accounting) plug in here.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from .config import Config, load_config
from .errors import InvalidRequestError
from .providers.base import Deployment
from .providers.registry import build_deployments
from .providers.transport import AiohttpTransport, Transport
from .resilience.breaker import Breaker
from .resilience.executor import ChatStream, Executor
from .resilience.health import HealthMonitor
from .resilience.probe import Prober
from .routing.plan import Router
from .state import MemoryStore, StateStore
from .types import ChatRequest, ChatResponse

__all__ = ["Gateway"]


class Gateway:
    """Many providers behind one interface.

    ```python
    async with Gateway.from_file("switchyard.yaml") as gateway:
        response = await gateway.chat(ChatRequest(model="fast", messages=[Message.user("Hi")]))
        print(response.text, response.meta.provider)
    ```
    """

    def __init__(
        self, config: Config, *, transport: Transport | None = None, state: StateStore | None = None
    ) -> None:
        self.config = config
        self._transport = transport if transport is not None else AiohttpTransport()
        self.deployments: dict[str, Deployment] = build_deployments(config, self._transport)
        self.router = Router(self.deployments, config.routes, config.resilience)
        self.state = state if state is not None else MemoryStore()
        self.breaker = Breaker(self.state, config.resilience.breaker)
        self.health = HealthMonitor()
        self.executor = Executor(self.breaker, self.health)
        self._prober = Prober(self.deployments.values(), self.executor, config.resilience.health)

    @classmethod
    def from_file(cls, path: str | Path, *, transport: Transport | None = None) -> Gateway:
        return cls(load_config(path), transport=transport)

    @property
    def model_names(self) -> list[str]:
        """Names clients may send as ``model``: deployments, then routes."""
        return self.router.names

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """One complete answer. ``response.meta`` says which deployment answered and what was tried."""
        if request.stream:
            raise InvalidRequestError("use Gateway.stream() for stream=true requests", param="stream")
        return await self.executor.chat(self.router.plan(request), request)

    async def stream(self, request: ChatRequest) -> ChatStream:
        """Open a stream. Falls back while nothing has been received; ``stream.meta`` says who answers."""
        return await self.executor.stream(self.router.plan(request), request)

    async def health_report(self) -> dict[str, Any]:
        """Every deployment's breaker and recent statistics (``GET /health/providers``)."""
        report: dict[str, Any] = {}
        for name, deployment in self.deployments.items():
            breaker = await self.breaker.snapshot(name)
            report[name] = {
                "provider": deployment.provider,
                "model": deployment.model,
                "state": "healthy" if breaker.state == "closed" else "unhealthy",
                "breaker": breaker.state,
                "breaker_last_error": breaker.last_error or None,
                **self.health.report(name),
            }
        return report

    def start(self) -> None:
        """Start background work (active health probes, when configured). Needs a running event loop."""
        self._prober.start()

    async def aclose(self) -> None:
        await self._prober.stop()
        await self._transport.aclose()
        await self.state.aclose()

    async def __aenter__(self) -> Gateway:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
