"""The semantic cache: answers a question asked before in other words, in the same context, when it is safe.

```python
sem = SemanticCache(RedisSemanticStore(url))        # encoder and verifier: the bundled ones
await sem.start()                                   # loads the shared entries, then follows their changes
hit = await sem.lookup(namespace, context_key, last_user_text, task="quick_lookup")
if hit is None:
    ...                                             # call the model, store the answer under response_key
    await sem.insert(namespace, context_key, last_user_text, response_key, ttl_s=3600)
await sem.aclose()
```

The caller has already matched everything but the last user turn exactly: ``context_key`` is the digest of the
system prompt, earlier turns, tools and parameters (:func:`switchyard.cache.key.context_digest`), and only
entries of the same ``(namespace, context_key)`` are ever compared. A lookup then tries, cheapest first:

1. nothing cached in this context → miss, without embedding anything;
2. the same text (normalised) → hit, without embedding anything;
3. embed the text (on a worker thread: it costs milliseconds), take the nearest ``max_candidates`` cached
   questions from the in-process index, and ask the :class:`~.verifier.Verifier` about those above its cosine
   floor: a hard mismatch (numbers, negation, names, units, opposites, swapped roles) rules a candidate out,
   and otherwise its learned score must reach the threshold for the task class. The best-scoring candidate
   that passes is the hit.

Every replica holds the whole index in memory and keeps it in step with the shared store by following its change
log (see :mod:`.store`); its own inserts are indexed at once. Store trouble never fails a request: lookups use the
index alone, and an insert or removal that cannot reach the store is counted in :attr:`SemanticCache.stats` and
logged, and the request goes on.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...aio import cancel_and_wait
from ...embed import Encoder, get_encoder
from ...errors import StateUnavailableError
from .entry import SemanticEntry, normalise
from .features import TextInfo, analyse
from .index import GraphJob, VectorIndex
from .store import Added, NamespaceRemoved, Removed, SemanticStore
from .verifier import Verifier

__all__ = ["SemanticCache", "SemanticHit", "SemanticStats"]

logger = logging.getLogger("switchyard.cache")

_RECENT = 1024
"""Embeddings of recently looked-up texts kept for the insert that usually follows a miss."""


@dataclass(frozen=True, slots=True)
class SemanticHit:
    entry_id: str
    """Pass to :meth:`SemanticCache.delete` when the answer turns out wrong (negative feedback)."""
    response_key: str
    """Where the answer is stored (given to :meth:`SemanticCache.insert`)."""
    score: float
    """The verifier's probability that the two questions are the same (1.0 for an exact text match)."""
    similarity: float
    """Cosine of the two questions' embeddings (1.0 for an exact text match)."""
    cached_text: str
    exact: bool
    """The texts are equal once normalised; no model was involved."""


@dataclass(slots=True)
class SemanticStats:
    """Counters since start, for metrics. Seconds are sums: divide by the matching count for a mean."""

    lookups: int = 0
    exact_hits: int = 0
    semantic_hits: int = 0
    empty_context: int = 0
    """Lookups answered "miss" because nothing was cached in that context (no embedding)."""
    vetoed: int = 0
    """Candidates ruled out by a hard mismatch (numbers, negation, names...)."""
    rejected: int = 0
    """Candidates above the cosine floor that the verifier scored below the threshold."""
    inserts: int = 0
    store_errors: int = 0
    reloads: int = 0
    embeddings: int = 0
    embed_seconds: float = 0.0
    lookup_seconds: float = 0.0
    """Time in lookups other than embedding."""


class SemanticCache:
    """A semantic cache over ``store``. Use ``async with`` or :meth:`start` / :meth:`aclose`."""

    def __init__(
        self,
        store: SemanticStore,
        *,
        encoder: Encoder | None = None,
        verifier: Verifier | None = None,
        max_candidates: int = 4,
        hnsw_from: int = 2048,
        poll_s: float = 1.0,
        sweep_s: float = 30.0,
    ) -> None:
        self.store = store
        self.encoder = encoder if encoder is not None else get_encoder()
        self.verifier = verifier if verifier is not None else Verifier.bundled()
        self._hnsw_from = hnsw_from
        self.index = VectorIndex(self.encoder.dim, hnsw_from=hnsw_from)
        self.stats = SemanticStats()
        self.max_candidates = max_candidates
        self._poll_s, self._sweep_s = poll_s, sweep_s
        self._cursor = "0-0"
        self._follower: asyncio.Task[None] | None = None
        # One worker: the encoder's matrix products already use the cores, and a second embedding at the same
        # time only makes both slower (bench/semantic_cache.py).
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="switchyard-embed")
        # Index builds (a replica's start, HNSW graphs) take seconds: a thread of their own, so that they hold up
        # neither the event loop nor the embeddings lookups wait for.
        self._builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="switchyard-index")
        self._builds: set[asyncio.Future[None]] = set()
        self._recent: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._ready = asyncio.Event()

    async def __aenter__(self) -> SemanticCache:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Load the shared entries (if the store is reachable) and start following changes."""
        if self._follower is not None:
            return
        try:
            await self._reload()
        except StateUnavailableError as exc:
            self.stats.store_errors += 1
            logger.warning("semantic cache: cannot load entries yet (%s); will retry", exc)
        self._follower = asyncio.create_task(self._follow(), name="switchyard-semantic-follow")

    async def aclose(self) -> None:
        if self._follower is not None:
            await cancel_and_wait(self._follower)
            self._follower = None
        for build in list(self._builds):
            build.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._builder.shutdown(wait=False, cancel_futures=True)
        await self.store.aclose()

    async def wait_ready(self) -> None:
        """Until the first load from the store has succeeded."""
        await self._ready.wait()

    async def lookup(
        self, namespace: str, context_key: str | bytes, text: str, task: str | None = None
    ) -> SemanticHit | None:
        """The cached answer to ``text`` in this context, or ``None``. ``task``: the request's task class
        (:mod:`switchyard.routing.classify`), which may have its own threshold."""
        self.stats.lookups += 1
        context = _context(context_key)
        if self.index.group_size(namespace, context) == 0 or not normalise(text):
            self.stats.empty_context += 1
            return None
        began = time.perf_counter()
        now = time.time()
        same = self.index.exact(namespace, context, text)
        if same is not None and same.expires_at > now:
            self.stats.exact_hits += 1
            self.stats.lookup_seconds += time.perf_counter() - began
            return SemanticHit(same.id, same.response_key, 1.0, 1.0, same.text, exact=True)
        vector = await self._embed(text)
        began = time.perf_counter()
        hit = self._match(namespace, context, text, vector, task, now)
        self.stats.lookup_seconds += time.perf_counter() - began
        return hit

    def _match(
        self, namespace: str, context: str, text: str, vector: NDArray[np.float32], task: str | None, now: float
    ) -> SemanticHit | None:
        verifier = self.verifier
        threshold = verifier.threshold_for(task)
        query: TextInfo | None = None
        best: SemanticHit | None = None
        for entry, similarity in self.index.search(namespace, context, vector, self.max_candidates):
            if similarity < verifier.floor:
                break  # most similar first: the rest are further still
            if entry.expires_at <= now:
                continue
            query = query or analyse(text)
            judgement = verifier.judge(analyse(entry.text), query, entry.vector, vector, similarity)
            if judgement.veto is not None:
                self.stats.vetoed += 1
            elif judgement.score < threshold:
                self.stats.rejected += 1
            elif best is None or judgement.score > best.score:
                best = SemanticHit(entry.id, entry.response_key, judgement.score, similarity, entry.text, False)
        if best is not None:
            self.stats.semantic_hits += 1
        return best

    async def insert(
        self, namespace: str, context_key: str | bytes, text: str, response_key: str, ttl_s: float
    ) -> str | None:
        """Remember that ``text`` in this context was answered by what is stored under ``response_key``, for
        ``ttl_s`` seconds. The entry's id, or ``None`` if the store could not be reached."""
        context = _context(context_key)
        if not normalise(text):
            return None
        same = self.index.exact(namespace, context, text)
        if same is not None and same.expires_at > time.time():
            return same.id
        vector = self._recent.pop(text, None)
        if vector is None:
            vector = await self._embed(text, remember=False)
        entry = SemanticEntry(
            id=secrets.token_hex(8), namespace=namespace, context=context, text=text, vector=vector,
            response_key=response_key, expires_at=time.time() + ttl_s,
        )
        try:
            await self.store.put(entry, ttl_s)
        except StateUnavailableError as exc:
            self._store_failed("insert", exc)
            return None
        self.index.add(entry)
        self._start_builds()
        self.stats.inserts += 1
        return entry.id

    async def delete(self, entry_id: str) -> bool:
        """Remove one entry everywhere (e.g. its answer got negative feedback). Whether it was indexed here."""
        known = self.index.remove(entry_id) is not None
        try:
            await self.store.remove([entry_id])
        except StateUnavailableError as exc:
            self._store_failed("delete", exc)
        return known

    async def invalidate_namespace(self, namespace: str) -> int:
        """Remove every entry of ``namespace`` everywhere; how many this replica had indexed."""
        removed = len(self.index.remove_namespace(namespace))
        try:
            await self.store.remove_namespace(namespace)
        except StateUnavailableError as exc:
            self._store_failed("namespace invalidation", exc)
        return removed

    async def _embed(self, text: str, *, remember: bool = True) -> NDArray[np.float32]:
        began = time.perf_counter()
        loop = asyncio.get_running_loop()
        vector = await loop.run_in_executor(self._executor, self.encoder.encode_one, text)
        self.stats.embeddings += 1
        self.stats.embed_seconds += time.perf_counter() - began
        if remember:
            self._recent[text] = vector
            if len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
        return vector

    def _store_failed(self, what: str, exc: StateUnavailableError) -> None:
        self.stats.store_errors += 1
        logger.warning("semantic cache: %s skipped: %s", what, exc)

    async def _reload(self) -> None:
        cursor, entries = await self.store.snapshot()
        # Filled off the loop, then swapped in: lookups meanwhile use the old index. Whatever changed after the
        # snapshot is in the log after ``cursor``, which the follower applies next.
        fresh = VectorIndex(self.encoder.dim, hnsw_from=self._hnsw_from)
        await asyncio.get_running_loop().run_in_executor(self._builder, fresh.add_many, entries)
        self.index = fresh
        self._cursor = cursor
        self.stats.reloads += 1
        self._ready.set()

    def _start_builds(self) -> None:
        """Build the HNSW graphs the index asks for on the builder thread, installing each when done."""
        for job in self.index.graph_jobs():
            index = self.index
            future = asyncio.get_running_loop().run_in_executor(self._builder, index.build_graph, job)

            def install(done: asyncio.Future[Any], index: VectorIndex = index, job: GraphJob = job) -> None:
                self._builds.discard(done)
                if done.cancelled():
                    return
                if done.exception() is not None:
                    job.group.building = False
                    logger.warning("semantic cache: building an HNSW graph failed: %r", done.exception())
                    return
                index.install_graph(job, done.result())

            self._builds.add(future)
            future.add_done_callback(install)

    async def _follow(self) -> None:
        backoff = self._poll_s
        next_sweep = time.monotonic() + self._sweep_s
        while True:
            try:
                if not self._ready.is_set():
                    await self._reload()
                changes = await self.store.changes(self._cursor, wait_s=self._poll_s)
                if changes.stale:
                    logger.info("semantic cache: fell behind the change log; reloading every entry")
                    await self._reload()
                    continue
                for event in changes.events:
                    if isinstance(event, Added):
                        self.index.add(event.entry)
                    elif isinstance(event, Removed):
                        for entry_id in event.ids:
                            self.index.remove(entry_id)
                    elif isinstance(event, NamespaceRemoved):
                        self.index.remove_namespace(event.namespace)
                self._start_builds()
                self._cursor = changes.cursor
                backoff = self._poll_s
            except StateUnavailableError as exc:
                self.stats.store_errors += 1
                logger.warning("semantic cache: cannot follow the store (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
            if time.monotonic() >= next_sweep:
                # The store expires entries by itself; the index only learns of it by looking.
                for entry_id in self.index.expired(time.time()):
                    self.index.remove(entry_id)
                next_sweep = time.monotonic() + self._sweep_s


def _context(context_key: str | bytes) -> str:
    return context_key.hex() if isinstance(context_key, bytes) else context_key

