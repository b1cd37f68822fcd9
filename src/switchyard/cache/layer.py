"""The response cache as the pipeline sees it: look a request up, store its answer, forget on request.

:meth:`ResponseCache.lookup` runs after admission and returns a :class:`Probe`: the outcome (``hit``,
``semantic-hit``, ``miss`` or ``skip``), the answer on a hit, and where the answer goes on a miss.
:meth:`ResponseCache.store` and :meth:`ResponseCache.store_stream` write it in the background, off the
response's path, and only answers that ended normally. A backend that cannot be reached is a miss, never an error.

Invalidation: a namespace's version is bumped (:meth:`invalidate`, ``POST /admin/cache/invalidate``) and every
entry written under the old version is unreachable from then on; one entry is removed by negative feedback on a
response it served or produced (:meth:`feedback`); everything else expires by TTL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import msgspec

from ..config import CacheConfig, Config, RouteCacheConfig
from ..errors import StateUnavailableError
from ..governance.principal import Principal
from ..governance.records import CacheOutcome
from ..routing.plan import Plan
from ..types import ChatChunk, ChatRequest, ChatResponse
from .backend import Address, CacheBackend, KeyScheme, MemoryBackend
from .entry import CachedAnswer, Versions, decode, encode, versions_of
from .key import exact_digest
from .metrics import CacheMetrics
from .policy import DEFAULT_CONTROL, CacheControl, Namespace, skip_reason
from .replay import Recorder, chunks_of, response_of

__all__ = ["Probe", "ResponseCache"]

logger = logging.getLogger("switchyard.cache")

_UNSTORABLE = frozenset({"content_filter", "error"})
"""Finish reasons of answers not worth repeating: a refusal may be a misfire, an error is not an answer."""

_DEFAULT_ROUTE = RouteCacheConfig()


@dataclass(slots=True)
class Probe:
    """One request's dealings with the cache, from lookup to store."""

    outcome: CacheOutcome
    route: str | None = None
    task: str | None = None
    namespace: Namespace | None = None
    address: Address | None = None
    """The request's entry (``None`` when the cache was skipped or could not be reached)."""
    storable: bool = False
    """The answer is to be stored at ``address`` (a miss or ``no-cache``, without ``no-store``)."""
    versions: Versions = (0, 0)
    ttl_s: float = 0.0
    answer: CachedAnswer | None = None
    """The cached answer, on a hit."""

    def response(self) -> ChatResponse:
        """The hit as a plain answer (a cached stream is joined)."""
        assert self.answer is not None
        return self.answer.response or response_of(self.answer.chunks or [])

    def chunks(self) -> list[ChatChunk]:
        """The hit as a stream (a cached plain answer is split into chunks)."""
        assert self.answer is not None
        if self.answer.chunks is not None:
            return self.answer.chunks
        return chunks_of(self.answer.response) if self.answer.response is not None else []


class ResponseCache:
    def __init__(self, config: CacheConfig, backend: CacheBackend, routes: dict[str, RouteCacheConfig]) -> None:
        self.config = config
        self.backend = backend
        self.routes = routes
        self.keys = KeyScheme(config.namespace, config.hash_tag)
        self.metrics = CacheMetrics()
        self._served: OrderedDict[str, tuple[str, str]] = OrderedDict()
        """Response and request ids → (namespace base, entry key), for feedback."""
        self._pending: set[asyncio.Task[None]] = set()
        self._writes: list[tuple[str, CachedAnswer, Versions, float]] = []

    @classmethod
    def from_config(cls, config: Config) -> ResponseCache:
        settings = config.cache
        backend: CacheBackend
        if settings.backend == "redis":
            from .redis import RedisBackend

            backend = RedisBackend(settings.url.get(), timeout_s=settings.timeout_ms / 1000)
        else:
            backend = MemoryBackend(settings.max_bytes)
        routes = {name: route.cache for name, route in config.routes.items() if route.cache is not None}
        return cls(settings, backend, routes)

    # -- lookup ------------------------------------------------------------------------------------------------

    async def lookup(
        self, request: ChatRequest, principal: Principal, plan: Plan, control: CacheControl | None = None
    ) -> Probe:
        control = control or DEFAULT_CONTROL
        route = self.routes.get(request.model, _DEFAULT_ROUTE)
        # Metrics by what the client asked for: a route, or a model named directly.
        name = plan.route or plan.requested
        task = plan.decision.task if plan.decision is not None else None
        reason = "route" if not route.enabled else skip_reason(request, control, self.config.skip)
        if reason is not None:
            self.metrics.outcome(name, task, "skip", reason)
            return Probe("skip", name, task)
        namespace = Namespace.of(principal, self.config.namespace_by, control.namespace)
        address = self.keys.address(namespace, exact_digest(request, namespace.name.encode()))
        ttl = min(control.ttl_s if control.ttl_s is not None else route.ttl_s or self.config.ttl_s,
                  self.config.max_ttl_s)
        storable = not control.no_store and ttl > 0
        if control.no_cache and not storable:
            self.metrics.outcome(name, task, "skip", "no-cache")
            return Probe("skip", name, task)
        started = time.perf_counter()
        try:
            # With no-cache the entry is not wanted, but the versions are: the fresh answer is stored under them.
            blob, versions = await self.backend.fetch(address)
        except StateUnavailableError as exc:
            self.metrics.errors += 1
            logger.debug("cache lookup failed: %s", exc)
            self.metrics.outcome(name, task, "miss")
            return Probe("miss", name, task, namespace)
        self.metrics.lookup_ms.observe((time.perf_counter() - started) * 1000)
        probe = Probe(
            "miss", name, task, namespace=namespace, address=address, storable=storable, versions=versions, ttl_s=ttl
        )
        if control.no_cache:
            probe.outcome = "skip"
            self.metrics.outcome(name, task, "skip", "no-cache")
            return probe
        if blob is not None and versions_of(blob) == versions:
            answer = decode(blob)
            fresh = answer is not None and (
                control.max_age_s is None or time.time() - answer.stored_at <= control.max_age_s
            )
            if fresh:
                probe.outcome, probe.answer, probe.storable = "hit", answer, False
        self.metrics.outcome(name, task, probe.outcome)
        return probe

    def served(self, probe: Probe, request_id: str, tokens: int, saved_usd: float | None) -> None:
        """A hit was served: count what it saved and remember its ids (the request's and the cached response's)
        for feedback."""
        self.metrics.saved(probe.route, tokens, saved_usd)
        answer = probe.answer
        if probe.namespace is not None and probe.address is not None and answer is not None:
            first = answer.response or (answer.chunks[0] if answer.chunks else None)
            self._remember((request_id, first.id if first else ""), probe.namespace.base, probe.address.entry)

    # -- store -------------------------------------------------------------------------------------------------

    def store(
        self, probe: Probe, response: ChatResponse, *, deployment: str, provider: str, cost_usd: float | None,
        request_id: str,
    ) -> None:
        """Store a plain answer (in the background)."""
        if not probe.storable or not response.choices:
            return
        if any(c.finish_reason in _UNSTORABLE for c in response.choices):
            return
        answer = CachedAnswer(
            deployment=deployment, provider=provider, stored_at=time.time(), cost_usd=cost_usd,
            response=msgspec.structs.replace(response, meta=None),
        )
        self._put(probe, answer, (request_id, response.id))

    def recorder(self, probe: Probe) -> Recorder | None:
        """What to hang on ``ChatStream.on_chunk`` to record a stream worth storing."""
        return Recorder(self.config.max_entry_bytes) if probe.storable else None

    def store_stream(
        self, probe: Probe, recorder: Recorder, *, deployment: str, provider: str, cost_usd: float | None,
        request_id: str,
    ) -> None:
        """Store a stream that ended normally (in the background)."""
        chunks = recorder.chunks
        if not probe.storable or not chunks or any(c.finish_reason in _UNSTORABLE for c in chunks):
            return
        answer = CachedAnswer(
            deployment=deployment, provider=provider, stored_at=time.time(), cost_usd=cost_usd, chunks=chunks
        )
        self._put(probe, answer, (request_id, chunks[0].id))

    def _put(self, probe: Probe, answer: CachedAnswer, ids: tuple[str, ...]) -> None:
        assert probe.namespace is not None
        assert probe.address is not None
        self._remember(ids, probe.namespace.base, probe.address.entry)
        self._writes.append((probe.address.entry, answer, probe.versions, probe.ttl_s))
        if len(self._writes) == 1:
            self._spawn(self._write())

    async def _write(self) -> None:
        # One loop turn first: answers finishing together are written together, one round trip for the lot
        # (a loopback round trip costs this 2-core VM ~180 µs of CPU, more than the cache's own work). Encoding
        # runs here too, not in the request: the client has its answer by the time this task gets the loop.
        await asyncio.sleep(0)
        batch, self._writes = self._writes, []
        limit, compress = self.config.max_entry_bytes, self.backend.compress
        items = [(key, blob, ttl) for key, answer, versions, ttl in batch
                 if len(blob := encode(answer, versions, compress=compress)) <= limit]
        try:
            await self.backend.put_many(items)
        except StateUnavailableError:
            self.metrics.errors += 1
            return
        self.metrics.stored += len(items)

    # -- invalidation ------------------------------------------------------------------------------------------

    async def invalidate(self, namespace: str) -> int:
        """Retire every entry of ``namespace`` (``key:<id>``, ``team:<name>``, ``global``, ``open``, or one of
        those narrowed: ``key:<id>/<name>``; a base also retires its narrowed namespaces). Returns the new
        version. Raises ``StateUnavailableError`` when the backend cannot be reached."""
        parsed = Namespace.parse(namespace)
        return await self.backend.bump(self.keys.version_keys(parsed)[-1])

    async def feedback(self, response_id: str, score: float, principal: Principal) -> bool | None:
        """Feedback on a response. ``None``: the cache knows no such response of this caller's; ``True``: the
        score was negative (``cache.feedback_evict_at``) and the entry is gone; ``False``: it stays."""
        found = self._served.get(response_id)
        if found is None or found[0] != Namespace.of(principal, self.config.namespace_by).base:
            return None
        if score > self.config.feedback_evict_at:
            return False
        del self._served[response_id]
        removed = await self.backend.delete(found[1])
        self.metrics.evicted_by_feedback += removed
        return True

    def _remember(self, ids: tuple[str, ...], base: str, entry: str) -> None:
        limit = self.config.remember
        if not limit:
            return
        served = self._served
        for response_id in ids:
            if response_id:
                served[response_id] = (base, entry)
                served.move_to_end(response_id)
        while len(served) > limit:
            served.popitem(last=False)

    # -- housekeeping ------------------------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._pending.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("cache store failed", exc_info=task.exception())

    async def flush(self) -> None:
        """Wait for the stores under way (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def stats(self) -> dict[str, Any]:
        return {**self.metrics.snapshot(), "store": self.backend.stats()}

    async def aclose(self) -> None:
        await self.flush()
        await self.backend.aclose()
