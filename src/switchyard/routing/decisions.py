"""Routing decisions, counted and explained.

:class:`DecisionCounts` is an in-process counter registry of ``(route, strategy, task, chosen)`` that the metrics
exporter reads (:meth:`DecisionCounts.snapshot`). Every label comes from the configuration (route and deployment
names, task names of the route's classifier), so the series are bounded; ``max_series`` is a second fence, beyond
which new label sets are counted under ``other``.

:func:`explain` renders a decision for the ``x-switchyard-route`` header:
``strategy=classify; task=coding; tier=rules; chosen=gpt-4o; candidates=gpt-4o,claude``.
"""

from __future__ import annotations

from typing import NamedTuple

from ..types import RouteDecision

__all__ = ["DecisionCounts", "DecisionLabels", "explain"]

OTHER = "other"


class DecisionLabels(NamedTuple):
    route: str
    strategy: str
    task: str
    """``""`` for strategies without tasks."""
    chosen: str
    """The deployment that answered, or ``none`` when the request failed or was turned away."""


class DecisionCounts:
    def __init__(self, *, max_series: int = 5000) -> None:
        self.max_series = max_series
        # Plain tuples on the hot path (a named tuple costs twice as much to build); named in snapshot().
        self._counts: dict[tuple[str, str, str, str], int] = {}

    def count(self, route: str, decision: RouteDecision, chosen: str | None) -> None:
        labels = (route, decision.strategy, decision.task or "", chosen or "none")
        counts = self._counts
        count = counts.get(labels)
        if count is None:
            count = 0
            if len(counts) >= self.max_series:
                labels = (OTHER, OTHER, OTHER, OTHER)
                count = counts.get(labels, 0)
        counts[labels] = count + 1

    def snapshot(self) -> dict[DecisionLabels, int]:
        """Every label set and its count since start (a copy: safe to read while requests run)."""
        return {DecisionLabels(*key): n for key, n in list(self._counts.items())}

    def total(self, **labels: str) -> int:
        """The count over every series matching ``labels`` (``total(route="fast", chosen="gpt")``)."""
        return sum(n for key, n in self.snapshot().items() if all(getattr(key, k) == v for k, v in labels.items()))


def explain(decision: RouteDecision, chosen: str | None) -> str:
    """The ``x-switchyard-route`` value: ``;``-separated ``key=value`` pairs, absent keys left out."""
    parts = [f"strategy={decision.strategy}"]
    if decision.arm is not None:
        parts.append(f"arm={decision.arm}")
    if decision.strategy == "classify":
        parts.append(f"task={decision.task or 'none'}")
    if decision.classifier is not None:
        parts.append(f"tier={decision.classifier}")
    if decision.confidence is not None:
        parts.append(f"score={decision.confidence:.2f}")
    if decision.affinity:
        parts.append("affinity=hit")
    if chosen is not None:
        parts.append(f"chosen={chosen}")
    parts.append("candidates=" + ",".join(decision.candidates))
    return "; ".join(parts)
