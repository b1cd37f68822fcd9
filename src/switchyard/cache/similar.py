"""The seam between the exact cache and the semantic cache (:class:`~.semantic.cache.SemanticCache`).

The exact cache owns answers; the semantic cache owns questions. It maps a question (the closing user turn) in a
context (everything else, which must match exactly: :func:`~switchyard.cache.key.context_digest`) to the entry key
of an earlier question that means the same. On a match the exact cache reads that entry from its own backend, with
the same namespace-version check as an exact hit, so a namespace bump, a TTL expiry or an entry removed by
feedback retires semantic matches too, whatever the semantic side still remembers.

Declared here as protocols so that the exact cache imports neither numpy nor the embedding model unless a route
opts into semantic caching.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["SimilarHit", "SimilarQuestions"]


class SimilarHit(Protocol):
    @property
    def entry_id(self) -> str:
        """The semantic entry, for :meth:`SimilarQuestions.delete`."""
        ...

    @property
    def response_key(self) -> str:
        """The exact cache's entry holding the answer."""
        ...


class SimilarQuestions(Protocol):
    async def start(self) -> None: ...
    async def aclose(self) -> None: ...

    async def lookup(
        self, namespace: str, context_key: str | bytes, text: str, task: str | None = None
    ) -> SimilarHit | None:
        """A question in ``namespace`` and this context that means the same as ``text``; ``None`` when there is
        none (a near miss must be ``None``: a wrong answer is worse than a miss). ``task``: the routing task class,
        for per-class thresholds."""
        ...

    async def insert(
        self, namespace: str, context_key: str | bytes, text: str, response_key: str, ttl_s: float
    ) -> str | None:
        """Remember that ``response_key`` answers ``text`` in this context, for ``ttl_s`` seconds."""
        ...

    async def delete(self, entry_id: str) -> bool:
        """Forget one question (its answer got negative feedback)."""
        ...

    async def invalidate_namespace(self, namespace: str) -> int:
        """Forget ``namespace``'s questions (their answers are already unreachable: this frees space)."""
        ...
