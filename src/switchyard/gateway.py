"""The pipeline for one request, and the embeddable library's entry point.

The HTTP server is a thin skin over :class:`Gateway`: both run the same steps — plan (which deployments, in
what order), admit (rate limits and a budget reservation, one atomic state-store call), execute (try the
deployments, falling back on failures that allow it), account (settle the budget with the actual cost and
write the usage ledger, both off the response's path).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .alerts import AlertManager
from .cache import CacheControl, Probe, ResponseCache
from .cache.replay import ReplayStream
from .config import Config, load_config
from .embedding_types import EmbeddingRequest, EmbeddingResponse
from .embeddings import check_embedding_request, estimate_input_tokens, routing_view
from .errors import InvalidRequestError, SwitchyardError
from .governance.costing import CatalogPricer
from .governance.governor import Governor, Ticket
from .governance.principal import Principal
from .governance.records import UsageRecord
from .providers.base import Deployment
from .providers.http1 import Http1Transport
from .providers.registry import build_deployments
from .providers.transport import Transport
from .redaction import Policies, Vault, restore_response
from .redaction.stream import RestoringStream
from .resilience.breaker import Breaker
from .resilience.executor import ChatStream, Executor
from .resilience.health import HealthMonitor
from .resilience.probe import Prober
from .routing.plan import Plan, Router
from .state import MemoryStore, StateStore
from .telemetry.hub import Telemetry
from .types import ChatRequest, ChatResponse, Mode, ResponseMeta, Usage

if TYPE_CHECKING:
    from .governance.ledger import Ledger

__all__ = ["Gateway"]

logger = logging.getLogger("switchyard.gateway")


class Gateway:
    """Many providers behind one interface.

    ```python
    async with Gateway.from_file("switchyard.yaml") as gateway:
        response = await gateway.chat(ChatRequest(model="fast", messages=[Message.user("Hi")]))
        print(response.text, response.meta.provider)
    ```
    """

    def __init__(
        self,
        config: Config,
        *,
        transport: Transport | None = None,
        state: StateStore | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        self.config = config
        # The lean HTTP/1.1 client: a quarter of aiohttp's CPU per proxied request (bench/transport.py).
        # ``transport=AiohttpTransport()`` selects aiohttp's instead.
        self._transport = transport if transport is not None else Http1Transport()
        self.deployments: dict[str, Deployment] = build_deployments(config, self._transport)
        self.state = state if state is not None else _state_store(config)
        self.breaker = Breaker(self.state, config.resilience.breaker)
        self.health = HealthMonitor()
        self.router = Router.from_config(config, self.deployments, health=self.health, breaker=self.breaker)
        self.telemetry = Telemetry(config, self.deployments, self.router.names)
        """Metrics, request logs and traces (``telemetry:`` in the configuration)."""
        self.executor = Executor(self.breaker, self.health, on_attempt=self.telemetry.on_attempt)
        self._prober = Prober(self.deployments.values(), self.executor, config.resilience.health)
        self.pricer = CatalogPricer(config)
        providers = {name: d.provider for name, d in self.deployments.items()}
        self.governor = Governor(config, self.state, self.pricer, providers)
        self.ledger = ledger
        """The usage ledger; ``None`` records nothing (the server opens one from ``ledger:`` in the config)."""
        self._background: set[asyncio.Task[None]] = set()
        self.alerts = AlertManager(config.alerts)
        self.governor.listeners.append(self.alerts.on_budget)
        self.breaker.listeners.append(self.alerts.on_breaker)
        self.cache = ResponseCache.from_config(config) if config.cache.enabled else None
        """The response cache (``cache:`` in the configuration); ``None`` when caching is off."""
        self.redaction = Policies.from_config(config)
        """Personal-data redaction per route (``redaction:``); ``None`` when it is off everywhere."""
        self.telemetry.bind(self)

    @classmethod
    def from_file(cls, path: str | Path, *, transport: Transport | None = None) -> Gateway:
        return cls(load_config(path), transport=transport)

    @property
    def model_names(self) -> list[str]:
        """Names clients may send as ``model``: deployments, then routes."""
        return self.router.names

    async def chat(
        self,
        request: ChatRequest,
        *,
        principal: Principal | None = None,
        request_id: str | None = None,
        cache: CacheControl | None = None,
    ) -> ChatResponse:
        """One complete answer. ``response.meta`` says which deployment answered, what was tried and the cost.

        ``principal`` is who is calling (key, user, team, features) for limits, budgets and the ledger; ``cache``
        the request's instructions to the response cache (``no_cache``, ``no_store``, TTL, namespace)."""
        if request.stream:
            raise InvalidRequestError("use Gateway.stream() for stream=true requests", param="stream")
        # Redacted first: routing, the cache key, the provider and logged bodies only ever see placeholders.
        request, vault = self._redact(request) if self.redaction is not None else (request, None)
        started, ticket = await self._admit(request, principal, request_id)
        probe = await self.cache.lookup(request, ticket.principal, ticket.plan, cache) if self.cache else None
        if probe is not None and probe.answer is not None:
            hit = probe.response()
            hit.meta = self._from_cache(ticket, request, started, probe)
            return self._restored(hit, vault)
        try:
            response = await self.executor.chat(ticket.plan, request)
        except SwitchyardError as exc:
            self._account(ticket, request, started, None, None, exc)
            raise
        meta = response.meta
        if meta is not None:
            self._describe(meta, ticket)
            meta.cache = probe.outcome if probe is not None else None
            meta.cost_usd = self._account(ticket, request, started, meta, response.usage, None, output=response)
            self.router.book.alias(response.id, ticket.member)
            if probe is not None and self.cache is not None:
                self.cache.store(
                    probe, response, deployment=meta.deployment, provider=meta.provider, cost_usd=meta.cost_usd,
                    request_id=ticket.member,
                )
        # Restored into a new response: the cache holds (and encodes later) the one with placeholders.
        return self._restored(response, vault)

    async def embed(
        self, request: EmbeddingRequest, *, principal: Principal | None = None, request_id: str | None = None
    ) -> EmbeddingResponse:
        """Embeddings of ``request.input``, one vector per input. Routed (to embedding deployments only), admitted,
        retried, fallen back and accounted like :meth:`chat`; the response cache does not take part."""
        check_embedding_request(request)
        view = routing_view(request)
        started, ticket = await self._admit(
            view, principal, request_id, mode="embedding", prompt_tokens=estimate_input_tokens(request)
        )
        try:
            response = await self.executor.embed(ticket.plan, request)
        except SwitchyardError as exc:
            self._account(ticket, view, started, None, None, exc)
            raise
        meta = response.meta
        if meta is not None:
            self._describe(meta, ticket)
            meta.cost_usd = self._account(ticket, view, started, meta, response.usage, None)
        return response

    async def stream(
        self,
        request: ChatRequest,
        *,
        principal: Principal | None = None,
        request_id: str | None = None,
        cache: CacheControl | None = None,
    ) -> ChatStream:
        """Open a stream. Falls back while nothing has been received; ``stream.meta`` says who answers. The cost
        is settled when the stream ends (``stream.meta.cost_usd``). A cached answer is played back as a stream."""
        request, vault = self._redact(request) if self.redaction is not None else (request, None)
        started, ticket = await self._admit(request, principal, request_id)
        probe = await self.cache.lookup(request, ticket.principal, ticket.plan, cache) if self.cache else None
        if probe is not None and probe.answer is not None:
            replay = ReplayStream(probe.chunks(), self._from_cache(ticket, request, started, probe))
            return self._restoring(replay, vault)
        try:
            stream = await self.executor.stream(ticket.plan, request)
            first_token = time.time()
        except SwitchyardError as exc:
            self._account(ticket, request, started, None, None, exc)
            raise
        self._describe(stream.meta, ticket)
        recorder = None
        if probe is not None and self.cache is not None:
            stream.meta.cache = probe.outcome
            recorder = stream.on_chunk = self.cache.recorder(probe)

        def closed(stream: ChatStream, error: BaseException | None) -> None:
            usage = stream.usage
            if usage is None:
                # Closed early (the client left) or the provider sent no usage: the tokens were still generated
                # and billed, so count an estimate rather than nothing.
                usage = Usage(input_tokens=ticket.prompt_tokens, output_tokens=len(stream.text) // 4)
            stream.meta.cost_usd = self._account(
                ticket, request, started, stream.meta, usage, error, first_token=first_token, output=stream
            )
            # Only a stream that reached its end is an answer worth repeating; one cut short is not.
            if recorder is not None and probe is not None and self.cache is not None and error is None and (
                stream.completed
            ):
                self.cache.store_stream(
                    probe, recorder, deployment=stream.meta.deployment, provider=stream.meta.provider,
                    cost_usd=stream.meta.cost_usd, request_id=ticket.member,
                )

        stream.on_close = closed
        # The wrapper restores what the client reads; the recorder and ``closed`` above see placeholders only.
        return self._restoring(stream, vault)

    def _redact(self, request: ChatRequest) -> tuple[ChatRequest, Vault | None]:
        assert self.redaction is not None
        policy = self.redaction.get(request.model)
        return policy.redact(request) if policy is not None else (request, None)

    @staticmethod
    def _restored(response: ChatResponse, vault: Vault | None) -> ChatResponse:
        if vault is None:
            return response
        if response.meta is not None:
            response.meta.redacted = vault.count
        return restore_response(response, vault) if vault.restore and vault.count else response

    @staticmethod
    def _restoring(stream: ChatStream, vault: Vault | None) -> ChatStream:
        if vault is None:
            return stream
        stream.meta.redacted = vault.count
        return RestoringStream(stream, vault) if vault.restore and vault.count else stream

    async def _plans(self, request: ChatRequest, principal: Principal, mode: Mode) -> tuple[Plan, list[Plan]]:
        key = principal.key.id if principal.key is not None else None
        plan = await self.router.aplan(request, user=principal.user or request.user, key=key, mode=mode)
        route = self.config.routes.get(plan.route or "")
        if route is None or not route.tiers:
            return plan, []
        tiers = [
            dataclasses.replace(
                plan, candidates=tuple(self.deployments[n] for n in dict.fromkeys([*tier.targets, *route.fallbacks]))
            )
            for tier in route.tiers
        ]
        return plan, tiers

    async def _admit(
        self, request: ChatRequest, principal: Principal | None, request_id: str | None, *, mode: Mode = "chat",
        prompt_tokens: int | None = None,
    ) -> tuple[float, Ticket]:
        started = time.time()
        principal = principal or Principal()
        member = request_id or f"{random.getrandbits(128):032x}"
        self.telemetry.begin(request, member, "embeddings" if mode == "embedding" else "chat")
        try:
            plan, tiers = await self._plans(request, principal, mode)
        except SwitchyardError as exc:
            self.telemetry.unplanned(request, member, started, exc)
            raise
        try:
            ticket = await self.governor.admit(principal, request, plan, member, tiers, prompt_tokens=prompt_tokens)
        except SwitchyardError as exc:
            self._record(Ticket(member, principal, plan), request, started, None, None, None, exc)
            raise
        return started, ticket

    def _from_cache(self, ticket: Ticket, request: ChatRequest, started: float, probe: Probe) -> ResponseMeta:
        """Account for a cache hit: the reservation is released (nothing was spent), the ledger gets a row with
        cost 0 and what the answer would have cost again; routing and health statistics are left alone."""
        answer = probe.answer
        assert answer is not None
        assert self.cache is not None
        meta = ResponseMeta(
            deployment=answer.deployment, provider=answer.provider, route=ticket.plan.route, cost_usd=0.0,
            cache=probe.outcome,
        )
        self._describe(meta, ticket)
        if ticket.counted and (ticket.budgets or ticket.token_limits):
            self._spawn(self.governor.settle(ticket, None, None, None))
        usage = answer.usage
        saved = self.governor.cost(answer.deployment, usage)
        saved = answer.cost_usd if saved is None else saved
        self.cache.served(probe, ticket.member, usage.total_tokens if usage is not None else 0, saved)
        self._record(ticket, request, started, meta, None, 0.0, None, saved_usd=saved)
        return meta

    @staticmethod
    def _describe(meta: ResponseMeta, ticket: Ticket) -> None:
        meta.request_id = ticket.member
        meta.estimated_cost_usd = ticket.estimate_usd
        meta.tier = ticket.tier
        meta.limit_headers = [(k.decode(), v.decode()) for k, v in ticket.headers]
        meta.routing = ticket.plan.decision

    def _account(
        self,
        ticket: Ticket,
        request: ChatRequest,
        started: float,
        meta: ResponseMeta | None,
        usage: Usage | None,
        error: BaseException | None,
        *,
        first_token: float | None = None,
        output: ChatResponse | ChatStream | None = None,
    ) -> float | None:
        """Price the request now (no I/O), settle its budgets and write its ledger row in the background."""
        deployment = meta.deployment if meta is not None and error is None else None
        cost = self.governor.cost(deployment, usage) if error is None else None
        if ticket.counted and (ticket.budgets or ticket.token_limits):
            self._spawn(self.governor.settle(ticket, deployment, usage if error is None else None, cost))
        self._record(ticket, request, started, meta, usage, cost, error, first_token=first_token, output=output)
        self.router.observe(
            ticket.plan, request, meta, user=ticket.principal.user or request.user, error=error, cost_usd=cost,
            latency_ms=(time.time() - started) * 1000, ids=(ticket.member,),
            tokens=usage.total_tokens if usage is not None else ticket.prompt_tokens,
        )
        # Only the gateway's or a provider's failures count towards error-rate alerts, not the client's.
        failed = isinstance(error, SwitchyardError) and error.status_code >= 500
        last = meta.attempts[-1].deployment if meta is not None and meta.attempts else None
        self.alerts.on_request(ticket.plan.route, deployment or last, not failed, time.time() - started)
        return cost

    def _record(
        self,
        ticket: Ticket,
        request: ChatRequest,
        started: float,
        meta: ResponseMeta | None,
        usage: Usage | None,
        cost: float | None,
        error: BaseException | None,
        *,
        saved_usd: float | None = None,
        first_token: float | None = None,
        output: ChatResponse | ChatStream | None = None,
    ) -> None:
        self.telemetry.finish(
            ticket, request, started, meta, usage, cost, error, first_token=first_token, output=output
        )
        if self.ledger is None:
            return
        principal = ticket.principal
        deployment = self.deployments.get(meta.deployment) if meta is not None else None
        self.ledger.record(
            UsageRecord(
                ts=started,
                request_id=ticket.member,
                key_id=principal.key.id if principal.key is not None else None,
                user=principal.user,
                team=principal.team,
                features=list(principal.features),
                route=ticket.plan.route,
                provider=deployment.provider if deployment is not None else None,
                deployment=deployment.name if deployment is not None else None,
                model=deployment.model if deployment is not None else None,
                input_tokens=usage.input_tokens if usage is not None else 0,
                output_tokens=usage.output_tokens if usage is not None else 0,
                cached_tokens=usage.cached_tokens if usage is not None else 0,
                cost_usd=cost,
                latency_ms=(time.time() - started) * 1000,
                status=error.status_code if isinstance(error, SwitchyardError) else (499 if error else 200),
                error=type(error).__name__ if error is not None else None,
                attempts=len(meta.attempts) if meta is not None else 0,
                tier=ticket.tier,
                stream=request.stream,
                cache=meta.cache if meta is not None else None,
                saved_usd=saved_usd,
            )
        )

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Nobody awaits background work: a bug in it must not vanish silently.
            logger.error("background task failed", exc_info=task.exception())

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
        self.router.start()
        self._spawn(self.alerts.start())
        if self.cache is not None:
            self.cache.start()

    async def aclose(self) -> None:
        await self._prober.stop()
        self.router.close()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.breaker.flush()
        await self.alerts.aclose()
        await self.telemetry.aclose()
        if self.cache is not None:
            await self.cache.aclose()
        if self.ledger is not None:
            await self.ledger.aclose()
        await self._transport.aclose()
        await self.state.aclose()

    async def __aenter__(self) -> Gateway:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _state_store(config: Config) -> StateStore:
    state = config.governance.state
    if state.backend == "memory":
        return MemoryStore()
    from .state.redis import RedisStore

    return RedisStore(
        state.url.get(), namespace=state.namespace, hash_tag=state.hash_tag, timeout_s=state.timeout_ms / 1000,
        max_connections=state.max_connections,
    )
