"""The metrics as JSON, for ``GET /admin/metrics``, ``GET /health/providers`` and the dashboard: the same counts
``/metrics`` publishes, plus latency percentiles over the most recent requests (exact, not bucketed)."""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Final

from .metrics import Metrics, Row

__all__ = ["RECENT", "Recent", "deployment_figures", "snapshot"]

RECENT: Final = 2048
"""Requests the percentiles are taken over."""


class Recent:
    """The latest latencies in seconds (total, time to first token, upstream, gateway overhead)."""

    __slots__ = ("overhead", "total", "ttft", "upstream")

    def __init__(self, size: int = RECENT) -> None:
        self.total: deque[float] = deque(maxlen=size)
        self.ttft: deque[float] = deque(maxlen=size)
        self.upstream: deque[float] = deque(maxlen=size)
        self.overhead: deque[float] = deque(maxlen=size)

    def percentiles(self) -> dict[str, dict[str, float | int | None]]:
        return {name: _percentiles(getattr(self, name)) for name in self.__slots__}


def _percentiles(samples: deque[float]) -> dict[str, float | int | None]:
    ordered = sorted(samples)
    out: dict[str, float | int | None] = {"count": len(ordered)}
    for label, q in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)):
        # Nearest rank, in milliseconds: what the dashboard shows.
        out[f"{label}_ms"] = round(ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000, 3) if ordered else None
    return out


def _row_figures(rows: list[Row]) -> dict[str, Any]:
    requests = sum(r.requests for r in rows)
    errors: dict[str, int] = {}
    for row in rows:
        for (status, error), count in row.errors.items():
            key = f"{status} {error}".strip()
            errors[key] = errors.get(key, 0) + count
    cache: dict[str, int] = {}
    for row in rows:
        for outcome, count in row.cache.items():
            cache[outcome] = cache.get(outcome, 0) + count
    return {
        "requests": requests,
        "ok": sum(r.ok for r in rows),
        "errors": errors,
        "server_errors": sum(c for r in rows for (s, _), c in r.errors.items() if s == "5xx"),
        "input_tokens": sum(r.input_tokens for r in rows),
        "output_tokens": sum(r.output_tokens for r in rows),
        "retries": sum(r.retries for r in rows),
        "fallbacks": sum(r.fallbacks for r in rows),
        "fell_back": sum(r.fell_back for r in rows),
        "hedges": sum(r.hedges for r in rows),
        "cache": cache,
    }


def snapshot(metrics: Metrics, recent: Recent) -> dict[str, Any]:
    """Everything counted since start: totals, per route, per deployment, cost, breakers, budgets."""
    rows = list(metrics.rows())
    routes: dict[str, list[Row]] = {}
    deployments: dict[str, list[Row]] = {}
    for row in rows:
        routes.setdefault(row.route, []).append(row)
        if row.deployment:
            deployments.setdefault(row.deployment, []).append(row)
    totals = _row_figures(rows)
    looked_up = sum(totals["cache"].get(k, 0) for k in ("hit", "semantic-hit", "miss"))
    hits = sum(totals["cache"].get(k, 0) for k in ("hit", "semantic-hit"))
    return {
        "totals": {
            **totals,
            "cost_usd": round(sum(sum(f.values()) for f in metrics.cost.values()), 10),
            "fallback_rate": round(totals["fell_back"] / totals["requests"], 4) if totals["requests"] else None,
            "cache_hit_rate": round(hits / looked_up, 4) if looked_up else None,
            "in_flight": metrics.in_flight,
        },
        "latency": recent.percentiles(),
        "routes": {name: _row_figures(group) for name, group in sorted(routes.items())},
        "deployments": deployment_figures(metrics),
        "cost_usd": {
            deployment: {feature or "(none)": round(usd, 10) for feature, usd in sorted(by_feature.items())}
            for deployment, by_feature in sorted(metrics.cost.items())
        },
        "breakers": {name: _STATE_NAMES[code] for name, code in sorted(metrics.breakers.items())},
        "budgets": [
            {"budget": name, "spent_usd": spent, "limit_usd": limit}
            for name, (spent, limit) in sorted(metrics.budgets.items())
        ],
    }


_STATE_NAMES: Final = {0: "closed", 1: "half_open", 2: "open"}


def deployment_figures(metrics: Metrics) -> dict[str, dict[str, Any]]:
    """Per deployment: requests it answered or failed last, and its upstream attempts by outcome."""
    grouped: dict[str, list[Row]] = {}
    for row in metrics.rows():
        if row.deployment:
            grouped.setdefault(row.deployment, []).append(row)
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(grouped) | set(metrics.attempts)):
        figures = _row_figures(grouped.get(name, []))
        attempts = metrics.attempts.get(name)
        figures["attempts"] = {
            "ok": attempts.ok if attempts is not None else 0,
            "failed": dict(sorted(attempts.failed.items())) if attempts is not None else {},
        }
        figures["cost_usd"] = round(sum(metrics.cost.get(name, {}).values()), 10)
        out[name] = figures
    return out
