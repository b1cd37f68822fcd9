"""Turn raw measurements into the results document (written as JSON) and the printed report.

Ratios are computed within each round, where the gateway and the passthrough ran back to back on the same
machine state, and the median over rounds is reported: a noisy neighbour during one round moves one sample,
not the verdict.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from loadgen import LoadResult

__all__ = ["TARGETS", "Measurements", "build", "render"]

TARGETS = ("direct", "passthrough", "gateway")
"""direct: the load generator talks to the simulator itself; the others are proxies in front of it."""

# The targets, as ratios to the passthrough measured in the same run, plus the absolute ones.
MAX_LATENCY_RATIO = 1.5
MIN_THROUGHPUT_RATIO = 0.70
MAX_RSS_MB = 120.0
MAX_READY_S = 1.5
INDICATIVE_ADDED_MS = 0.6
INDICATIVE_RPS = 2000.0


@dataclass
class Measurements:
    meta: dict[str, Any]
    c1: dict[str, list[LoadResult]] = field(default_factory=lambda: {t: [] for t in TARGETS})
    c32: dict[str, list[LoadResult]] = field(default_factory=lambda: {t: [] for t in TARGETS})
    cpu_us: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TARGETS})
    """CPU time of the server process in front of the load (the simulator for ``direct``) per request."""
    stream_c1: dict[str, LoadResult] = field(default_factory=dict)
    stream_c32: dict[str, LoadResult] = field(default_factory=dict)
    ready_s: list[float] = field(default_factory=list)
    memory_kib: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per proxy: (VmRSS after the load, VmHWM)."""
    upstream_closes: dict[str, int] = field(default_factory=dict)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.inf


def _round3(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


def _check(name: str, value: float, limit: float, *, at_most: bool, unit: str = "") -> dict[str, Any]:
    ok = value <= limit if at_most else value >= limit
    return {"name": name, "value": _round3(value), "limit": limit, "at_most": at_most, "unit": unit, "pass": ok}


def build(m: Measurements) -> dict[str, Any]:
    """The results document: absolute figures per target, per-round samples, ratios and verdicts."""
    rounds = len(m.c1["gateway"])
    per_round: list[dict[str, Any]] = []
    for i in range(rounds):
        direct = m.c1["direct"][i].p50_ms
        added_gw = m.c1["gateway"][i].p50_ms - direct
        added_pt = m.c1["passthrough"][i].p50_ms - direct
        per_round.append({
            "added_ms": {"gateway": round(added_gw, 3), "passthrough": round(added_pt, 3)},
            "latency_ratio": round(_ratio(added_gw, added_pt), 3),
            "throughput_ratio": round(_ratio(m.c32["gateway"][i].rps, m.c32["passthrough"][i].rps), 3),
        })
    latency_ratio = _median([r["latency_ratio"] for r in per_round])
    throughput_ratio = _median([r["throughput_ratio"] for r in per_round])
    added_gw = _median([r["added_ms"]["gateway"] for r in per_round])
    added_pt = _median([r["added_ms"]["passthrough"] for r in per_round])

    targets: dict[str, Any] = {}
    for t in TARGETS:
        c1, c32 = m.c1[t], m.c32[t]
        targets[t] = {
            "c1": {
                "p50_ms": _round3(_median([r.p50_ms for r in c1])),
                "p90_ms": _round3(_median([r.p90_ms for r in c1])),
                "p99_ms": _round3(_median([r.p99_ms for r in c1])),
                "requests_per_round": [r.requests for r in c1],
            },
            "c32": {
                "rps": round(_median([r.rps for r in c32]), 1),
                "p50_ms": _round3(_median([r.p50_ms for r in c32])),
                "p99_ms": _round3(_median([r.p99_ms for r in c32])),
            },
            "cpu_us_per_request": _round3(_median(m.cpu_us[t])),
            "rounds": {"c1": [r.as_dict() for r in c1], "c32": [r.as_dict() for r in c32]},
        }
    errors = sum(r.errors for t in TARGETS for r in (*m.c1[t], *m.c32[t]))

    hwm_kib = m.memory_kib["gateway"][1]
    ready = _median(m.ready_s)
    checks = [
        _check("added latency c=1 p50, gateway / passthrough", latency_ratio, MAX_LATENCY_RATIO, at_most=True,
               unit="x"),
        _check("req/s c=32, gateway / passthrough", throughput_ratio, MIN_THROUGHPUT_RATIO, at_most=False, unit="x"),
        _check("gateway peak RSS (VmHWM)", hwm_kib / 1024, MAX_RSS_MB, at_most=True, unit="MB"),
        _check("gateway time to ready (median)", ready, MAX_READY_S, at_most=True, unit="s"),
    ]
    indicative = [
        _check("gateway added latency c=1 p50", added_gw, INDICATIVE_ADDED_MS, at_most=True, unit="ms"),
        _check("gateway req/s c=32", targets["gateway"]["c32"]["rps"], INDICATIVE_RPS, at_most=False, unit="req/s"),
    ]
    streaming = {
        t: {"c1": m.stream_c1[t].as_dict(), "c32": m.stream_c32[t].as_dict()} for t in m.stream_c1
    }
    return {
        "meta": m.meta,
        "targets": targets,
        "added_latency_ms": {"gateway": _round3(added_gw), "passthrough": _round3(added_pt)},
        "ratios": {"latency": _round3(latency_ratio), "throughput": _round3(throughput_ratio)},
        "per_round": per_round,
        "gateway": {
            "ready_s": [round(s, 3) for s in m.ready_s],
            "ready_s_median": _round3(ready),
        },
        "memory_mb": {
            name: {"rss": round(rss / 1024, 1), "peak": round(hwm / 1024, 1)}
            for name, (rss, hwm) in m.memory_kib.items()
        },
        "upstream_connections_closed_under_load": m.upstream_closes,
        "errors": errors,
        "checks": checks,
        "indicative": indicative,
        "pass": all(c["pass"] for c in checks) and errors == 0,
        "streaming": streaming,
    }


def _verdict(check: dict[str, Any]) -> str:
    relation = "<=" if check["at_most"] else ">="
    unit = check["unit"]
    state = "PASS" if check["pass"] else "FAIL"
    return f"  {state}  {check['name']}: {check['value']}{unit} (target {relation} {check['limit']}{unit})"


def render(doc: dict[str, Any]) -> str:
    """The human-readable report of a results document."""
    meta, targets = doc["meta"], doc["targets"]
    lines = [
        "",
        f"Switchyard bench — {meta['loadgen']} load generator, {meta['rounds']} round(s), each target per round: "
        f"c=1 {meta['c1_seconds']} s in interleaved 1 s slices, c=32 {meta['c32_seconds']} s; "
        f"{meta['body_bytes']}-byte non-streaming chat body; medians over rounds; the passthrough forwards with "
        f"{meta.get('passthrough_client', 'aiohttp')}'s client",
        "",
        f"  {'target':<12} {'c=1 p50':>9} {'p90':>8} {'p99':>8} {'added':>8}   "
        f"{'c=32 req/s':>10} {'p50':>8} {'p99':>8}   {'CPU/req':>9}",
    ]
    for name in TARGETS:
        t = targets[name]
        added = doc["added_latency_ms"].get(name)
        lines.append(
            f"  {name:<12} {t['c1']['p50_ms']:>7.3f}ms {t['c1']['p90_ms']:>6.3f}ms {t['c1']['p99_ms']:>6.3f}ms "
            f"{'' if added is None else f'{added:+.3f}ms':>8}   {t['c32']['rps']:>10,.0f} "
            f"{t['c32']['p50_ms']:>6.2f}ms {t['c32']['p99_ms']:>6.2f}ms   "
            f"{t['cpu_us_per_request']:>7.0f}µs"
        )
    lines += [
        "",
        "  added = c=1 p50 minus direct-to-simulator p50; CPU/req = CPU time of the process the load hits "
        "(the simulator for direct) per request at c=32",
        "",
        "  per round (added gateway / added passthrough, req/s gateway / passthrough):",
    ]
    for i, r in enumerate(doc["per_round"], 1):
        lines.append(
            f"    round {i}: {r['added_ms']['gateway']:.3f} / {r['added_ms']['passthrough']:.3f} ms = "
            f"{r['latency_ratio']:.2f}x   {r['throughput_ratio']:.2f}x"
        )
    memory, ready = doc["memory_mb"], doc["gateway"]
    lines += [
        "",
        "  memory after the load: " + ", ".join(
            f"{name} {mb['rss']:.1f} MB RSS (peak {mb['peak']:.1f})" for name, mb in memory.items()
        ),
        "  gateway time to ready (spawn → 200 on /health): "
        + ", ".join(f"{s:.2f}" for s in ready["ready_s"]) + f" s, median {ready['ready_s_median']:.2f} s",
        "  upstream connections closed under load (TIME_WAIT, c=32 warmup): "
        + ", ".join(f"{k} {v}" for k, v in doc["upstream_connections_closed_under_load"].items()),
    ]
    if doc["streaming"]:
        lines += ["", "  streaming (not part of the targets; one round):"]
        for name, s in doc["streaming"].items():
            lines.append(
                f"    {name:<12} c=1 p50 {s['c1']['p50_ms']:.3f} ms   c=32 {s['c32']['rps']:,.0f} req/s "
                f"p50 {s['c32']['p50_ms']:.2f} ms"
            )
    lines += ["", "Targets (ratios to the passthrough measured in this run):"]
    lines += [_verdict(c) for c in doc["checks"]]
    if doc["errors"]:
        lines.append(f"  FAIL  {doc['errors']} request(s) failed during the load: the figures above are not valid")
    lines += ["Indicative absolutes (from the issue; machine-dependent):"]
    lines += [_verdict(c) for c in doc["indicative"]]
    lines.append("")
    lines.append("ALL TARGETS MET" if doc["pass"] else "SOME TARGETS MISSED")
    return "\n".join(lines)
