"""Active health probes: a one-token request (a one-word embedding) to every deployment on an interval (off by
default).

Passive statistics only learn about a deployment from traffic; a probe finds a dead deployment before a user
does, and closes a recovered one's breaker without a user's request being the probe. A probe is an ordinary,
billed call, so it is opt-in (``resilience.health.probe_interval_s``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..aio import cancel_and_wait
from ..config import HealthConfig
from ..embedding_types import EmbeddingRequest
from ..errors import SwitchyardError, UpstreamError, UpstreamTimeoutError
from ..providers.base import Deployment
from ..types import ChatRequest, Message

if TYPE_CHECKING:
    from .executor import Executor

__all__ = ["Prober"]

logger = logging.getLogger("switchyard.health")


class Prober:
    def __init__(self, deployments: Iterable[Deployment], executor: Executor, config: HealthConfig) -> None:
        self.deployments = list(deployments)
        self.executor = executor
        self.config = config
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.config.probe_interval_s > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="switchyard-health-probes")

    async def stop(self) -> None:
        if self._task is not None:
            # A probe may be inside a shared-store (redis-py) call, where one cancel can be lost on 3.11.
            await cancel_and_wait(self._task)
            self._task = None

    async def _loop(self) -> None:
        while True:
            await self.probe_all()
            await asyncio.sleep(self.config.probe_interval_s)

    async def probe_all(self) -> None:
        await asyncio.gather(*(self.probe(d) for d in self.deployments))

    async def probe(self, deployment: Deployment) -> bool | None:
        """Probe one deployment; ``None`` when its breaker is open and not yet due for a probe."""
        breaker, health = self.executor.breaker, self.executor.health
        if await breaker.admit(deployment.name) == "open":
            return None
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.config.probe_timeout_s):
                if deployment.mode == "embedding":
                    await deployment.embed(EmbeddingRequest(model=deployment.name, input=["ping"]))
                else:
                    await deployment.chat(ChatRequest(model=deployment.name, messages=[Message.user("ping")],
                                                      max_tokens=1))
        except TimeoutError:
            return await self._failed(deployment, UpstreamTimeoutError(
                f"health probe timed out after {self.config.probe_timeout_s:g}s",
                provider=deployment.provider, deployment=deployment.name,
            ))
        except UpstreamError as exc:
            return await self._failed(deployment, exc)
        except SwitchyardError as exc:
            # The probe itself is unsupported here (say, a model that needs other input): no verdict.
            logger.debug("health probe of %s not possible: %s", deployment.name, exc)
            await breaker.release(deployment.name)
            return None
        health.success(deployment.name, (time.perf_counter() - started) * 1000)
        await breaker.success(deployment.name)
        return True

    async def _failed(self, deployment: Deployment, exc: UpstreamError) -> bool:
        self.executor.health.failure(deployment.name, exc.message, type(exc).__name__)
        await self.executor.breaker.judge(deployment.name, exc)
        logger.warning("health probe of %s failed: %s: %s", deployment.name, type(exc).__name__, exc.message)
        return False
