"""Filters that run before ranking: the request's kind (chat or embedding), tags, required capabilities,
context-window fit, then health.

The first four are facts about the request and the deployment: when they remove every candidate the request can
never be served as sent (400). Health passes: when some deployment failed only on health, the answer is 503.
Either way the error says which filter removed which deployment and why.

A :class:`Pool` carries what its deployments have in common (known lacks, the smallest known window), so a request
that no filter could touch costs a few attribute reads: no message scan, no token estimate, no new tuple.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import NoCandidateError
from ..types import Mode
from .needs import Needs
from .targets import Target

__all__ = ["Available", "Pool", "Removed", "no_candidate", "qualify"]

Available = Callable[[str], bool]
"""Whether a deployment's breaker lets calls through, judged without I/O (``Breaker.available``)."""

Removed = dict[str, list[tuple[str, str]]]
"""Filter name → ``(deployment, why)`` for each deployment it removed."""

_ORDER = ("mode", "tags", "capability", "context_window", "health")
_MODES = {"chat": ("a chat model", "chat completions"), "embedding": ("an embedding model", "embeddings")}


@dataclass(frozen=True, slots=True)
class Pool:
    """Candidates in the order a strategy prepared, with what the filters need to know up front."""

    targets: tuple[Target, ...]
    lacks: frozenset[str]
    """Features at least one of them lacks: only these are worth checking on a request."""
    min_window: int | None
    """The smallest known context window: a request under it fits everywhere."""
    mode: Mode | None = "chat"
    """The mode every member shares (``None``: mixed): a request of that mode needs no per-target check."""

    @classmethod
    def of(cls, targets: Iterable[Target]) -> Pool:
        members = tuple(targets)
        lacks = frozenset().union(*(t.lacks for t in members))
        windows = [t.context_window for t in members if t.context_window is not None]
        modes = {t.mode for t in members}
        return cls(members, lacks, min(windows) if windows else None, modes.pop() if len(modes) == 1 else None)


def _drop(
    kept: tuple[Target, ...], removed: Removed, name: str, keep: Callable[[Target], bool],
    why: Callable[[Target], str],
) -> tuple[Target, ...]:
    survivors = tuple(t for t in kept if keep(t))
    if len(survivors) == len(kept):
        return kept  # the same tuple: callers can tell by identity that nothing was removed
    removed.setdefault(name, []).extend((t.name, why(t)) for t in kept if not keep(t))
    return survivors


def qualify(pool: Pool, needs: Needs, available: Available | None, removed: Removed) -> tuple[Target, ...]:
    """The pool's targets that may serve the request, in pool order (``pool.targets`` itself when no filter
    removed anything). What was removed, and why, is added to ``removed``.

    ``available`` is ``None`` when health should not filter."""
    kept = pool.targets
    if pool.mode != needs.mode:
        mode = needs.mode
        kept = _drop(kept, removed, "mode", lambda t: t.mode == mode,
                     lambda t: f"{_MODES[t.mode][0]}; the request is for {_MODES[mode][1]}")
    if needs.request.tags:
        demanded = needs.tags
        kept = _drop(kept, removed, "tags", lambda t: demanded <= t.tags,
                     lambda t: "lacks tag " + ", ".join(sorted(demanded - t.tags)))
    if pool.lacks:
        used = needs.features & pool.lacks
        if used:
            kept = _drop(kept, removed, "capability", lambda t: not used & t.lacks,
                         lambda t: "no " + ", ".join(sorted(used & t.lacks)))
    window = pool.min_window
    if window is not None and needs.token_ceiling > window and needs.tokens > window:
        tokens = needs.tokens
        kept = _drop(kept, removed, "context_window", lambda t: t.context_window is None or tokens <= t.context_window,
                     lambda t: f"window {t.context_window} < ~{tokens} tokens")
    if available is not None:
        for target in kept:
            if not available(target.name):
                kept = _drop(kept, removed, "health", lambda t: available(t.name), lambda t: "circuit breaker open")
                break
    return kept


def no_candidate(where: str, removed: Removed) -> NoCandidateError:
    """The error for a request every filter turned away: which filter removed which deployment, and why."""
    removed = {name: removed[name] for name in _ORDER if name in removed}
    reasons = "; ".join(
        f"{name} removed " + ", ".join(f"{deployment} ({why})" for deployment, why in entries)
        for name, entries in removed.items()
    )
    return NoCandidateError(
        f"no deployment of '{where}' can serve this request: {reasons or 'none configured'}",
        removed={name: [deployment for deployment, _ in entries] for name, entries in removed.items()},
    )
