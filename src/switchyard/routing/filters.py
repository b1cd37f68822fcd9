"""Filters that run before ranking: tags, required capabilities, context-window fit, then health.

The first three are facts about the request and the deployment: when they remove every candidate the request can
never be served as sent (400). Health passes: when it removed the last ones, the answer is 503. Either way the
error says which filter removed which deployment and why.

A :class:`Pool` carries what its deployments have in common (known lacks, the smallest known window), so a request
that no filter could touch costs a few attribute reads: no message scan, no token estimate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import NoCandidateError
from .needs import Needs
from .targets import Target

__all__ = ["Pool", "qualify"]

Available = Callable[[str], bool]
"""Whether a deployment's breaker lets calls through, judged without I/O (``Breaker.available``)."""


@dataclass(frozen=True, slots=True)
class Pool:
    """Candidates in configuration order, with what the filters need to know up front."""

    targets: tuple[Target, ...]
    lacks: frozenset[str]
    """Features at least one of them lacks: only these are worth checking on a request."""
    min_window: int | None
    """The smallest known context window: a request under it fits everywhere."""

    @classmethod
    def of(cls, targets: Iterable[Target]) -> Pool:
        members = tuple(targets)
        lacks = frozenset().union(*(t.lacks for t in members))
        windows = [t.context_window for t in members if t.context_window is not None]
        return cls(members, lacks, min(windows) if windows else None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.targets)


def qualify(pool: Pool, needs: Needs, available: Available | None, where: str) -> tuple[Target, ...]:
    """The pool's targets that may serve the request, in pool order; raises :class:`NoCandidateError` if none.

    ``available`` is ``None`` when health should not filter (a model named directly keeps today's behaviour: its
    walk reports the open breaker)."""
    kept = pool.targets
    removed: dict[str, list[str]] = {}
    why: list[str] = []

    def drop(name: str, keep: Callable[[Target], bool], reason: Callable[[Target], str]) -> None:
        nonlocal kept
        out = [t for t in kept if not keep(t)]
        if out:
            kept = tuple(t for t in kept if keep(t))
            removed[name] = [t.name for t in out]
            why.append(f"{name} removed " + ", ".join(f"{t.name} ({reason(t)})" for t in out))

    if needs.request.tags:
        demanded = needs.tags
        drop("tags", lambda t: demanded <= t.tags,
             lambda t: "lacks tag " + ", ".join(sorted(demanded - t.tags)))
    if pool.lacks:
        used = needs.features & pool.lacks
        if used:
            drop("capability", lambda t: not used & t.lacks, lambda t: "no " + ", ".join(sorted(used & t.lacks)))
    if pool.min_window is not None and needs.tokens > pool.min_window:
        tokens = needs.tokens
        drop("context_window", lambda t: t.context_window is None or tokens <= t.context_window,
             lambda t: f"needs ~{tokens} tokens, window {t.context_window}")
    if available is not None and kept:
        drop("health", lambda t: available(t.name), lambda t: "circuit breaker open")
    if not kept:
        raise NoCandidateError(f"no deployment of '{where}' can serve this request: " + "; ".join(why),
                               removed=removed)
    return kept
