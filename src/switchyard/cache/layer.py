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
from ..errors import ConfigError, StateUnavailableError
from ..governance.principal import Principal
from ..governance.records import CacheOutcome
from ..routing.plan import Plan
from ..types import ChatChunk, ChatRequest, ChatResponse
from .backend import Address, CacheBackend, KeyScheme, MemoryBackend
from .entry import CachedAnswer, Versions, decode, encode, versions_of
from .key import context_digest, exact_digest, last_user_text
from .metrics import CacheMetrics
from .policy import DEFAULT_CONTROL, CacheControl, Namespace, skip_reason
from .replay import Recorder, chunks_of, response_of
from .similar import SimilarQuestions

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
    question: tuple[bytes, str] | None = None
    """``(context digest, last user turn)``: on a route with semantic caching, what the semantic cache indexes."""
    similar: str | None = None
    """On a semantic hit, the semantic entry that matched."""

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
    def __init__(
        self,
        config: CacheConfig,
        backend: CacheBackend,
        routes: dict[str, RouteCacheConfig],
        *,
        semantic: SimilarQuestions | None = None,
    ) -> None:
        self.config = config
        self.backend = backend
        self.routes = routes
        self.semantic = semantic
        """Answers paraphrases on routes with ``cache.semantic``; ``None``: exact matches only."""
        self.keys = KeyScheme(config.namespace, config.hash_tag)
        self.metrics = CacheMetrics()
        self._served: OrderedDict[str, tuple[str, str, str | None]] = OrderedDict()
        """Response and request ids → (namespace base, entry key, semantic entry), for feedback."""
        self._pending: set[asyncio.Task[None]] = set()
        self._writes: list[tuple[str, CachedAnswer, Versions, float]] = []
        self._questions: list[tuple[str, bytes, str, str, float]] = []

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
        opted = sorted(name for name, route in routes.items() if route.semantic)
        semantic = _semantic_cache(settings, opted) if opted else None
        return cls(settings, backend, routes, semantic=semantic)

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
        if probe.answer is None and route.semantic and self.semantic is not None:
            await self._similar(request, probe, control)
        self.metrics.outcome(name, task, probe.outcome)
        return probe

    async def _similar(self, request: ChatRequest, probe: Probe, control: CacheControl) -> None:
        """After an exact miss: the answer to a question that means the same, in the same context."""
        assert probe.namespace is not None
        assert probe.address is not None
        assert self.semantic is not None
        context = context_digest(request, probe.namespace.name.encode())
        text = last_user_text(request)
        if context is None or not text:
            return
        probe.question = context, text
        started = time.perf_counter()
        try:
            hit = await self.semantic.lookup(probe.namespace.name, context, text, task=probe.task)
            self.metrics.semantic_lookup_ms.observe((time.perf_counter() - started) * 1000)
            if hit is None or hit.response_key == probe.address.entry:
                return
            found = Address(hit.response_key, probe.address.versions)
            blob, versions = await self.backend.fetch(found)
        except StateUnavailableError:
            self.metrics.errors += 1
            return
        if blob is None or versions_of(blob) != versions:
            return
        answer = decode(blob)
        if answer is not None and (control.max_age_s is None or time.time() - answer.stored_at <= control.max_age_s):
            # The paraphrase is not stored under its own key: one entry per answer keeps feedback and bumps exact.
            probe.outcome, probe.answer, probe.address, probe.storable = "semantic-hit", answer, found, False
            probe.similar = hit.entry_id

    def served(self, probe: Probe, request_id: str, tokens: int, saved_usd: float | None) -> None:
        """A hit was served: count what it saved and remember its ids (the request's and the cached response's)
        for feedback."""
        self.metrics.saved(probe.route, tokens, saved_usd)
        answer = probe.answer
        if probe.namespace is not None and probe.address is not None and answer is not None:
            first = answer.response or (answer.chunks[0] if answer.chunks else None)
            ids = (request_id, first.id if first else "")
            self._remember(ids, probe.namespace.base, probe.address.entry, probe.similar)

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
        self._remember(ids, probe.namespace.base, probe.address.entry, None)
        self._writes.append((probe.address.entry, answer, probe.versions, probe.ttl_s))
        if probe.question is not None:
            context, text = probe.question
            self._questions.append((probe.namespace.name, context, text, probe.address.entry, probe.ttl_s))
        if len(self._writes) == 1:
            self._spawn(self._write())

    async def _write(self) -> None:
        # One loop turn first: answers finishing together are written together, one round trip for the lot
        # (a loopback round trip costs this 2-core VM ~180 µs of CPU, more than the cache's own work). Encoding
        # runs here too, not in the request: the client has its answer by the time this task gets the loop.
        await asyncio.sleep(0)
        batch, self._writes = self._writes, []
        questions, self._questions = self._questions, []
        limit, compress = self.config.max_entry_bytes, self.backend.compress
        items = [(key, blob, ttl) for key, answer, versions, ttl in batch
                 if len(blob := encode(answer, versions, compress=compress)) <= limit]
        try:
            await self.backend.put_many(items)
        except StateUnavailableError:
            self.metrics.errors += 1
            return
        self.metrics.stored += len(items)
        if self.semantic is not None:
            # After the answers are handed to the backend: a replica matching a question in the moment before its
            # answer lands finds no entry, which is only a miss.
            stored = {key for key, _, _ in items}
            try:
                for namespace, context, text, entry, ttl in questions:
                    if entry in stored:
                        await self.semantic.insert(namespace, context, text, entry, ttl)
            except StateUnavailableError:
                self.metrics.errors += 1

    # -- invalidation ------------------------------------------------------------------------------------------

    async def invalidate(self, namespace: str) -> int:
        """Retire every entry of ``namespace`` (``key:<id>``, ``team:<name>``, ``global``, ``open``, or one of
        those narrowed: ``key:<id>/<name>``; a base also retires its narrowed namespaces). Returns the new
        version. Raises ``StateUnavailableError`` when the backend cannot be reached."""
        parsed = Namespace.parse(namespace)
        version = await self.backend.bump(self.keys.version_keys(parsed)[-1])
        if self.semantic is not None:
            await self.semantic.invalidate_namespace(parsed.name)
        return version

    async def feedback(self, response_id: str, score: float, principal: Principal) -> bool | None:
        """Feedback on a response. ``None``: the cache knows no such response of this caller's; ``True``: the
        score was negative (``cache.feedback_evict_at``) and the entry is gone; ``False``: it stays."""
        found = self._served.get(response_id)
        if found is None or found[0] != Namespace.of(principal, self.config.namespace_by).base:
            return None
        if score > self.config.feedback_evict_at:
            return False
        del self._served[response_id]
        # The answer goes, not only the paraphrase that found it: which of the two was wrong is unknown, and every
        # other question pointing at the answer then misses too.
        removed = await self.backend.delete(found[1])
        if found[2] is not None and self.semantic is not None:
            await self.semantic.delete(found[2])
        self.metrics.evicted_by_feedback += removed
        return True

    def _remember(self, ids: tuple[str, ...], base: str, entry: str, similar: str | None) -> None:
        limit = self.config.remember
        if not limit:
            return
        served = self._served
        for response_id in ids:
            if response_id:
                served[response_id] = (base, entry, similar)
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
        """Finish the stores under way (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self.backend.flush()

    def stats(self) -> dict[str, Any]:
        return {**self.metrics.snapshot(), "store": self.backend.stats()}

    def start(self) -> None:
        """Start the semantic cache's background work (loading and following the shared entries). Needs a
        running event loop."""
        if self.semantic is not None:
            self._spawn(self.semantic.start())

    async def aclose(self) -> None:
        await self.flush()
        if self.semantic is not None:
            await self.semantic.aclose()
        await self.backend.aclose()


def _semantic_cache(settings: CacheConfig, routes: list[str]) -> SimilarQuestions | None:
    """The semantic cache for the routes that opt in, sharing the exact cache's store; ``None`` (exact matches
    only, said loudly) when its model or verifier is not installed: a missing optimisation must not stop the
    gateway, and an exact-only cache is still correct."""
    try:
        from .semantic.cache import SemanticCache
        from .semantic.store import MemorySemanticStore, SemanticStore

        store: SemanticStore
        if settings.backend == "redis":
            from .semantic.redis_store import RedisSemanticStore

            store = RedisSemanticStore(
                settings.url.get(), namespace=settings.namespace, hash_tag=settings.hash_tag,
                timeout_s=settings.timeout_ms / 1000,
            )
        else:
            store = MemorySemanticStore()
        verifier = None
        if settings.semantic_threshold is not None:
            from .semantic.verifier import Verifier

            verifier = Verifier.bundled().with_thresholds(threshold=settings.semantic_threshold)
        return SemanticCache(store, verifier=verifier)
    except (ConfigError, ImportError) as exc:
        logger.warning(
            "semantic cache unavailable (%s): routes %s answer exact repeats only", exc, ", ".join(routes)
        )
        return None
