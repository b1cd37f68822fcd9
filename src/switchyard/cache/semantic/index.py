"""Nearest-neighbour search over cached questions, in process, one group per (namespace, context).

A lookup only ever compares questions asked in the same context (system prompt, earlier turns, tools,
parameters), so the index is partitioned by that context: most groups are small, and a group's search never
sees another tenant's entries. A small group is searched exactly with one matrix-vector product (a 2,048-entry
group costs tens of microseconds); once a group reaches ``hnsw_from`` entries it also gets an HNSW graph
(hnswlib, when installed) so that a group of 100k entries answers in well under a millisecond
(``bench/semantic_cache.py``). Without hnswlib every group is searched exactly.

Entries occupy numbered slots in their group; the slot number is the HNSW label, a removed entry's slot is
reused by the next insert, and the graph is rebuilt when removals pile up. Building a graph takes about half a
millisecond per entry (``bench/semantic_cache.py``), far too long for the event loop, so a group that needs one
is only *marked*: :meth:`VectorIndex.graph_jobs` hands out copies of its vectors, :meth:`VectorIndex.build_graph`
builds from the copy on any thread, and :meth:`VectorIndex.install_graph`, back on the owning thread, brings the
graph up to date with whatever changed meanwhile. Until then the group is searched exactly. The index itself is
not thread-safe: the cache calls it from the event loop only, where every call is short.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .entry import SemanticEntry, normalise

__all__ = ["HNSW_AVAILABLE", "GraphJob", "VectorIndex"]

try:
    import hnswlib

    HNSW_AVAILABLE = True
except ImportError:  # pragma: no cover - exercised only where hnswlib is not installed
    hnswlib = None
    HNSW_AVAILABLE = False

logger = logging.getLogger("switchyard.cache")

GroupKey = tuple[str, str]


@dataclass(slots=True, eq=False)
class _Group:
    vectors: NDArray[np.float32]
    slots: list[SemanticEntry | None] = field(default_factory=list)
    free: list[int] = field(default_factory=list)
    by_text: dict[str, str] = field(default_factory=dict)
    """Normalised text → entry id, for the exact check before any embedding."""
    graph: Any = None
    """An ``hnswlib.Index`` over the live slots, or ``None`` while the group is searched exactly."""
    removed_since_build: int = 0
    building: bool = False

    @property
    def count(self) -> int:
        return len(self.slots) - len(self.free)


@dataclass(frozen=True, slots=True, eq=False)
class GraphJob:
    """What building one group's graph needs, copied so that another thread may read it."""

    key: GroupKey
    group: _Group
    vectors: NDArray[np.float32]
    slots: NDArray[np.int64]
    ids: dict[int, str]
    """Slot → entry id at the time of the copy, to see afterwards what changed."""


class VectorIndex:
    """Unit vectors of ``dim`` dimensions, searched by inner product (cosine) within a group."""

    def __init__(
        self, dim: int, *, hnsw_from: int = 2048, hnsw_m: int = 16, hnsw_ef: int = 64, hnsw_ef_construction: int = 64
    ) -> None:
        self.dim = dim
        self.hnsw_from = hnsw_from if HNSW_AVAILABLE else 0
        self._m, self._ef, self._ef_construction = hnsw_m, hnsw_ef, hnsw_ef_construction
        self._groups: dict[GroupKey, _Group] = {}
        self._where: dict[str, tuple[GroupKey, int]] = {}
        self._namespaces: dict[str, set[GroupKey]] = {}
        self._pending: set[GroupKey] = set()

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, entry_id: str) -> bool:
        return entry_id in self._where

    def get(self, entry_id: str) -> SemanticEntry | None:
        where = self._where.get(entry_id)
        if where is None:
            return None
        return self._groups[where[0]].slots[where[1]]

    def has_graph(self, namespace: str, context: str) -> bool:
        group = self._groups.get((namespace, context))
        return group is not None and group.graph is not None

    def group_size(self, namespace: str, context: str) -> int:
        group = self._groups.get((namespace, context))
        return 0 if group is None else group.count

    def add(self, entry: SemanticEntry) -> bool:
        """Add ``entry``; ``False`` if an entry with its id is already here (adds are idempotent, since a replica
        sees its own inserts both directly and through the shared log)."""
        if entry.id in self._where:
            return False
        if entry.vector.shape != (self.dim,):
            raise ValueError(f"entry {entry.id}: vector of shape {entry.vector.shape}, expected ({self.dim},)")
        key = (entry.namespace, entry.context)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(np.empty((16, self.dim), dtype=np.float32))
            self._namespaces.setdefault(entry.namespace, set()).add(key)
        slot = group.free.pop() if group.free else len(group.slots)
        if slot == len(group.slots):
            group.slots.append(None)
            if slot == len(group.vectors):
                self._grow(group)
        group.slots[slot] = entry
        group.vectors[slot] = entry.vector
        group.by_text[normalise(entry.text)] = entry.id
        self._where[entry.id] = (key, slot)
        if group.graph is not None:
            if slot >= group.graph.get_max_elements():
                group.graph.resize_index(len(group.vectors))
            group.graph.add_items(entry.vector[None, :], np.asarray([slot]), num_threads=1)
        elif self.hnsw_from and group.count >= self.hnsw_from:
            self._pending.add(key)
        return True

    def add_many(self, entries: Iterable[SemanticEntry]) -> int:
        """Add entries in bulk and build the graphs they call for right here, one batch per group: meant for a
        fresh index filled on a worker thread before it is put to use (a replica's start)."""
        added = sum(self.add(entry) for entry in entries)
        self.build_pending()
        return added

    def build_pending(self) -> None:
        """Build and install every graph due, on this thread."""
        for job in self.graph_jobs():
            self.install_graph(job, self.build_graph(job))

    def graph_jobs(self) -> list[GraphJob]:
        """The groups that need a (new) graph, each as a copy to build from; they are marked as being built."""
        jobs = []
        later: set[GroupKey] = set()
        for key in self._pending:
            group = self._groups.get(key)
            if group is None:
                continue
            if group.building:
                later.add(key)  # asked again while a build runs: build once more after it
                continue
            live = np.asarray([i for i, e in enumerate(group.slots) if e is not None], dtype=np.int64)
            ids = {int(i): e.id for i, e in enumerate(group.slots) if e is not None}
            group.building = True
            jobs.append(GraphJob(key, group, group.vectors[live].copy(), live, ids))
        self._pending = later
        return jobs

    def build_graph(self, job: GraphJob) -> Any:
        """An HNSW graph over ``job``'s vectors; touches nothing shared, so any thread may run it."""
        assert hnswlib is not None
        graph = hnswlib.Index(space="ip", dim=self.dim)
        graph.init_index(
            max_elements=max(int(job.slots.max(initial=0)) + 1, 16), ef_construction=self._ef_construction, M=self._m
        )
        graph.set_ef(self._ef)
        graph.add_items(job.vectors, job.slots, num_threads=1)
        return graph

    def install_graph(self, job: GraphJob, graph: Any) -> None:
        """Give ``job``'s group its graph, first bringing it up to date with the changes made since the copy."""
        group = job.group
        group.building = False
        if self._groups.get(job.key) is not group:
            return  # emptied and dropped meanwhile (or the index was cleared)
        if graph.get_max_elements() < len(group.vectors):
            graph.resize_index(len(group.vectors))
        for slot, entry in enumerate(group.slots):
            if entry is None:
                if slot in job.ids:
                    graph.mark_deleted(slot)
            elif job.ids.get(slot) != entry.id:
                graph.add_items(entry.vector[None, :], np.asarray([slot]), num_threads=1)
        group.graph = graph
        group.removed_since_build = 0
        logger.debug("semantic cache: installed an HNSW graph over %d entries", group.count)

    def remove(self, entry_id: str) -> SemanticEntry | None:
        where = self._where.pop(entry_id, None)
        if where is None:
            return None
        key, slot = where
        group = self._groups[key]
        entry = group.slots[slot]
        assert entry is not None
        group.slots[slot] = None
        group.free.append(slot)
        text = normalise(entry.text)
        if group.by_text.get(text) == entry_id:
            del group.by_text[text]
        if group.count == 0:
            del self._groups[key]
            keys = self._namespaces[key[0]]
            keys.discard(key)
            if not keys:
                del self._namespaces[key[0]]
        elif group.graph is not None:
            group.graph.mark_deleted(slot)
            group.removed_since_build += 1
            # Deleted nodes still route searches; past a point they only slow them down and cost recall.
            if group.removed_since_build > group.count:
                self._pending.add(key)
        return entry

    def remove_namespace(self, namespace: str) -> list[str]:
        """Remove every entry of ``namespace``; their ids."""
        removed: list[str] = []
        for key in list(self._namespaces.get(namespace, ())):
            group = self._groups[key]
            removed.extend(e.id for e in group.slots if e is not None)
        for entry_id in removed:
            self.remove(entry_id)
        return removed

    def clear(self) -> None:
        self._groups.clear()
        self._where.clear()
        self._namespaces.clear()
        self._pending.clear()

    def expired(self, now: float) -> list[str]:
        """Ids of entries whose ``expires_at`` has passed."""
        return [
            entry.id for group in self._groups.values() for entry in group.slots
            if entry is not None and entry.expires_at <= now
        ]

    def exact(self, namespace: str, context: str, text: str) -> SemanticEntry | None:
        """The entry of this group whose text equals ``text`` once normalised."""
        group = self._groups.get((namespace, context))
        if group is None:
            return None
        entry_id = group.by_text.get(normalise(text))
        return None if entry_id is None else self.get(entry_id)

    def search(
        self, namespace: str, context: str, vector: NDArray[np.float32], k: int
    ) -> list[tuple[SemanticEntry, float]]:
        """Up to ``k`` entries of the group nearest to ``vector``, most similar first, with their cosine."""
        group = self._groups.get((namespace, context))
        if group is None or k <= 0:
            return []
        k = min(k, group.count)
        found: list[tuple[int, float]] | None = None
        if group.graph is not None:
            try:
                labels, distances = group.graph.knn_query(vector[None, :], k=k, num_threads=1)
                found = [(int(s), 1.0 - float(d)) for s, d in zip(labels[0], distances[0], strict=True)]
            except RuntimeError:
                # hnswlib could not find k live nodes (a graph thinned out by removals): answer exactly.
                self._pending.add((namespace, context))
        if found is None:
            used = len(group.slots)
            sims = group.vectors[:used] @ vector
            for slot in group.free:
                sims[slot] = -np.inf
            top = np.argpartition(-sims, k - 1)[:k] if k < used else np.arange(used)
            top = top[np.argsort(-sims[top])][:k]
            found = [(int(s), float(sims[s])) for s in top]
        out: list[tuple[SemanticEntry, float]] = []
        for slot, similarity in found:
            entry = group.slots[slot]
            if entry is not None:
                out.append((entry, similarity))
        return out

    def _grow(self, group: _Group) -> None:
        bigger = np.empty((2 * len(group.vectors), self.dim), dtype=np.float32)
        bigger[: len(group.vectors)] = group.vectors
        group.vectors = bigger
        if group.graph is not None:
            group.graph.resize_index(len(bigger))
