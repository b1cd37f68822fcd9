"""The dashboard's figures as one JSON document (``GET /admin/dashboard``, and ``/dashboard/data`` for the page).

Spend comes from the usage ledger through the admin API's own ``GET /admin/usage`` (so the page shows exactly
what ``switchyard usage`` reports): one report per time bucket and dimension — feature, user, model, provider —
over the requested range. The rest is this replica's: provider health and breakers
(:meth:`~switchyard.gateway.Gateway.health_report`), the telemetry snapshot (fallbacks, cache outcomes, latency
percentiles over recent requests, breaker states, budgets) and the cache's own counters.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from itertools import pairwise
from typing import Any, Final

import orjson

from ..errors import InvalidRequestError, SwitchyardError
from ..gateway import Gateway

__all__ = ["DIMENSIONS", "dashboard_report"]

AdminHandler = Callable[[str, str, bytes, bytes], Awaitable[tuple[int, bytes]]]

DIMENSIONS: Final = ("feature", "user", "model", "provider")
TOP_GROUPS: Final = 8
"""Groups drawn per dimension; the rest are summed as ``(other)``."""
_RANGE = re.compile(r"^(\d+)([mhd])$")
_UNIT_S: Final = {"m": 60, "h": 3600, "d": 86_400}


async def dashboard_report(gateway: Gateway, admin: AdminHandler | None, params: dict[str, str]) -> dict[str, Any]:
    """``params``: ``range`` (``30m``, ``24h``, ``7d``; default ``24h``) and ``buckets`` (2-48, default 12)."""
    range_s, buckets = _range(params)
    now = time.time()
    bucket_s = range_s / buckets
    # Bucket edges on whole multiples of the bucket size, so that refreshes keep the same buckets.
    end = (int(now // bucket_s) + 1) * bucket_s
    edges = [end - bucket_s * (buckets - i) for i in range(buckets + 1)]
    report: dict[str, Any] = {
        "generated_at": now,
        "range": {"seconds": range_s, "since": edges[0], "until": edges[-1], "bucket_s": bucket_s},
        "health": await gateway.health_report(),
        "telemetry": gateway.telemetry.snapshot(),
        "cache": gateway.cache.stats() if gateway.cache is not None else None,
    }
    if admin is None:
        report["spend"] = {"error": "the usage ledger is off (ledger.enabled: false)"}
        report["budgets"] = []
        return report
    try:
        report["spend"] = await _spend(admin, edges)
        report["budgets"] = orjson.loads((await admin("GET", "/admin/budgets", b"", b""))[1]).get("data", [])
    except SwitchyardError as exc:
        # The database is down: the replica's own figures are still worth showing.
        report["spend"] = {"error": exc.message}
        report["budgets"] = []
    return report


def _range(params: dict[str, str]) -> tuple[float, int]:
    text = params.get("range", "24h")
    match = _RANGE.match(text)
    if match is None or int(match.group(1)) <= 0:
        raise InvalidRequestError(f"range must look like 30m, 24h or 7d, not '{text}'", param="range")
    try:
        buckets = int(params.get("buckets", "12"))
    except ValueError:
        raise InvalidRequestError("buckets must be a whole number", param="buckets") from None
    if not 2 <= buckets <= 48:
        raise InvalidRequestError("buckets must be between 2 and 48", param="buckets")
    return int(match.group(1)) * _UNIT_S[match.group(2)], buckets


async def _usage(admin: AdminHandler, by: str, since: float, until: float) -> list[dict[str, Any]]:
    status, body = await admin("GET", "/admin/usage", f"by={by}&since={since!r}&until={until!r}".encode(), b"")
    data: list[dict[str, Any]] = orjson.loads(body).get("data", []) if status == 200 else []
    return data


async def _spend(admin: AdminHandler, edges: list[float]) -> dict[str, Any]:
    windows = list(pairwise(edges))
    by: dict[str, Any] = {}
    total_series = [0.0] * len(windows)
    requests_series = [0] * len(windows)
    for dimension in DIMENSIONS:
        # One after another: each report first flushes the ledger's buffer, and flushes should not race.
        reports = [await _usage(admin, dimension, a, b) for a, b in windows]
        groups: dict[str, dict[str, Any]] = {}
        for i, rows in enumerate(reports):
            for row in rows:
                name = row["group"] if row["group"] is not None else "(none)"
                group = groups.setdefault(name, {
                    "group": name, "cost_usd": 0.0, "requests": 0, "errors": 0, "cache_hits": 0,
                    "input_tokens": 0, "output_tokens": 0, "series": [0.0] * len(windows),
                })
                group["cost_usd"] += row["cost_usd"]
                group["series"][i] += row["cost_usd"]
                for key in ("requests", "errors", "cache_hits", "input_tokens", "output_tokens"):
                    group[key] += row[key]
                if dimension == "provider":
                    # Every request has exactly one provider row (possibly "(none)"): the totals come from here.
                    total_series[i] += row["cost_usd"]
                    requests_series[i] += row["requests"]
        by[dimension] = _top(sorted(groups.values(), key=lambda g: (-g["cost_usd"], -g["requests"], g["group"])))
    return {
        "buckets": edges[:-1],
        "total_usd": sum(total_series),
        "requests": sum(requests_series),
        "series_usd": total_series,
        "series_requests": requests_series,
        "by": by,
    }


def _top(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(groups) <= TOP_GROUPS:
        return groups
    kept, rest = groups[: TOP_GROUPS - 1], groups[TOP_GROUPS - 1 :]
    series = [sum(values) for values in zip(*(g["series"] for g in rest), strict=True)]
    other: dict[str, Any] = {"group": "(other)", "series": series}
    for key in ("cost_usd", "requests", "errors", "cache_hits", "input_tokens", "output_tokens"):
        other[key] = sum(g[key] for g in rest)
    return [*kept, other]
