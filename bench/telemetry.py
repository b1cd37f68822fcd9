"""Telemetry's cost: the core benchmark's request against two gateways, telemetry off and on, in one run.

Starts the simulator and two ``switchyard serve`` processes that differ only in ``telemetry:`` — *off*: no metrics
and no request log; *on*: the defaults (metrics counted for ``/metrics``, one JSON line per request written to
stderr, which goes to a file) — then alternates the same load between them: c=1 and c=32, each in one-second
slices that take turns (the first target rotating every round; the median c=1 slice stands for the round, the c=32
slices are summed), with the serving process's CPU time per request. The gateways share a CPU nobody else uses
(only the one under load is busy), the harness, wrk and the simulator the others (``--no-pin`` leaves placement to
the scheduler; see ``procs.pin_split``).
``/metrics`` is scraped during the *on* runs, as Prometheus would. The verdict: with telemetry on, the c=1
latency the gateway adds and the c=32 throughput stay within 10 % of the figures without it.

Run: ``make bench-telemetry`` or ``.venv/bin/python bench/telemetry.py [--rounds 5] [--tracing]``.
``--tracing`` also turns tracing on for the *on* gateway (exporting to a port nobody listens on: spans are built
and dropped by the exporter, which is the SDK's work without a collector's).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from loadgen import LoadGenerator, LoadResult, pick
from procs import Service, Services, cpu_seconds, free_port, pin_split
from run import BODY, MODEL, PATH, _check_answers

BENCH_DIR = Path(__file__).resolve().parent
TARGETS = ("direct", "off", "on")
LIMIT = 0.10


def _config(sim: Service, directory: Path, name: str, telemetry: dict[str, Any]) -> Path:
    config = {
        "providers": {"sim": {"type": "openai", "api_key": "sk-bench", "base_url": f"{sim.url}/v1"}},
        "models": {MODEL: {"provider": "sim", "model": MODEL}},
        "ledger": {"url": f"sqlite:///{directory / f'usage-{name}.db'}"},
        "telemetry": telemetry,
    }
    path = directory / f"gateway-{name}.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


class Scraper:
    """Scrapes ``/metrics`` once a second while the load runs, as a Prometheus server would."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.scrapes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                connection.request("GET", "/metrics")
                if connection.getresponse().read().startswith(b"# HELP"):
                    self.scrapes += 1
            finally:
                connection.close()

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _round(loadgen: LoadGenerator, urls: dict[str, str], pids: dict[str, int], on_port: int, args: argparse.Namespace,
           out: dict[str, dict[str, list[float]]], index: int) -> None:
    # Both loads run as one-second slices that take turns, the first target rotating every round: a drift in the
    # machine's speed (a neighbour, a timer, the page cache) then lands on every target alike instead of on
    # whichever ran during it.
    order = [TARGETS[(index + i) % len(TARGETS)] for i in range(len(TARGETS))]
    slices: dict[str, list[LoadResult]] = {t: [] for t in order}
    c32: dict[str, list[float]] = {t: [0.0, 0.0, 0.0, 0.0] for t in order}  # requests, seconds, CPU s, errors
    with Scraper(on_port):
        for _ in range(args.c1_seconds):
            for target in order:
                slices[target].append(loadgen.run(urls[target], BODY, 1, 1))
        for _ in range(args.c32_seconds):
            for target in order:
                before = cpu_seconds(pids[target])
                result = loadgen.run(urls[target], BODY, 32, 1)
                totals = c32[target]
                totals[0] += result.requests
                totals[1] += result.seconds
                totals[2] += cpu_seconds(pids[target]) - before
                totals[3] += result.errors
    for target in order:
        c1 = LoadResult.median_of(slices[target])
        requests, seconds, cpu, errors = c32[target]
        out[target]["c1_p50_ms"].append(c1.p50_ms)
        out[target]["c32_rps"].append(requests / seconds)
        out[target]["cpu_us"].append(cpu / max(1.0, requests) * 1e6)
        # CPU-seconds per second under load: near 1.0, the server had its CPU to itself and used all of it, so its
        # req/s measure its own cost per request, not the load generator's or the upstream's.
        out[target]["busy"].append(cpu / seconds if seconds else 0.0)
        out[target]["errors"].append(c1.errors + errors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--c1-seconds", type=int, default=3)
    parser.add_argument("--c32-seconds", type=int, default=4)
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="let the scheduler place the gateways (default: each gateway on a CPU of its own)")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--tracing", action="store_true", help="also trace every request on the 'on' gateway")
    parser.add_argument("--on", type=json.loads, default={}, metavar="JSON",
                        help="the 'on' gateway's telemetry section (default: {}, the defaults)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "telemetry.json")
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="switchyard-telemetry-") as tmp, Services(Path(tmp)) as services:
        work = Path(tmp)
        split = pin_split() if args.pin else None
        if split is not None:
            # The harness, and so wrk and the simulator it starts, keep off the gateways' CPU.
            os.sched_setaffinity(0, split[0])
        args.pinned = ",".join(map(str, sorted(split[1]))) if split is not None else ""
        loadgen, note = pick(args.loadgen, work)
        if note:
            print(f"note: {note}", file=sys.stderr)
        sim_port = free_port()
        sim = services.start("simulator", [python, "-m", "switchyard.cli", "simulate", "--port", str(sim_port)],
                             sim_port)
        sim.wait_ready()
        on: dict[str, Any] = dict(args.on)
        if args.tracing:
            on["tracing"] = {"enabled": True, "otlp_endpoint": f"http://127.0.0.1:{free_port()}/v1/traces"}
        gateways: dict[str, Service] = {}
        for name, telemetry in (("off", {"metrics": False, "request_log": False}), ("on", on)):
            port = free_port()
            config = _config(sim, work, name, telemetry)
            gateways[name] = services.start(
                f"gateway-{name}", [python, "-m", "switchyard.cli", "serve", "--config", str(config), "--port",
                                    str(port)], port, cpus=split[1] if split is not None else None,
            )
            gateways[name].wait_ready()
        urls = {"direct": sim.url + PATH, **{n: g.url + PATH for n, g in gateways.items()}}
        pids = {"direct": sim.pid, **{n: g.pid for n, g in gateways.items()}}
        for url in urls.values():
            _check_answers(url.removesuffix(PATH), BODY)
        for target in TARGETS:
            loadgen.run(urls[target], BODY, 32, 2)  # warm-up
        out: dict[str, dict[str, list[float]]] = {
            t: {"c1_p50_ms": [], "c32_rps": [], "cpu_us": [], "busy": [], "errors": []} for t in TARGETS
        }
        for i in range(args.rounds):
            _round(loadgen, urls, pids, gateways["on"].port, args, out, i)
            print(f"round {i + 1}/{args.rounds}: " + "  ".join(
                f"{t} c1 p50 {out[t]['c1_p50_ms'][-1]:.3f} ms, c32 {out[t]['c32_rps'][-1]:,.0f} req/s, "
                f"{out[t]['cpu_us'][-1]:.0f} µs CPU" for t in TARGETS), file=sys.stderr, flush=True)
        log_lines = sum(1 for _ in gateways["on"].log_path.open(encoding="utf-8", errors="replace"))
    doc = _report(out, args, loadgen.name, log_lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(_render(doc))
    return 0 if doc["pass"] else 1


def _report(out: dict[str, dict[str, list[float]]], args: argparse.Namespace, loadgen: str, log_lines: int) -> dict[
    str, Any
]:
    med = {t: {k: statistics.median(v) for k, v in figures.items()} for t, figures in out.items()}
    # Per round, so that a noisy neighbour moves one sample, not the verdict.
    added = {t: [a - d for a, d in zip(out[t]["c1_p50_ms"], out["direct"]["c1_p50_ms"], strict=True)]
             for t in ("off", "on")}
    latency_ratio = statistics.median(on / off for on, off in zip(added["on"], added["off"], strict=True))
    throughput_ratio = statistics.median(
        on / off for on, off in zip(out["on"]["c32_rps"], out["off"]["c32_rps"], strict=True)
    )
    cpu_ratio = statistics.median(on / off for on, off in zip(out["on"]["cpu_us"], out["off"]["cpu_us"], strict=True))
    errors = sum(sum(v["errors"]) for v in out.values())
    passed = latency_ratio <= 1 + LIMIT and throughput_ratio >= 1 - LIMIT and errors == 0
    return {
        "meta": {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rounds": args.rounds, "loadgen": loadgen,
                 "tracing": args.tracing, "on": args.on, "request_log_lines": log_lines,
                 "pinned": args.pinned},
        "median": med,
        "added_c1_p50_ms": {t: statistics.median(v) for t, v in added.items()},
        "latency_ratio": round(latency_ratio, 3),
        "throughput_ratio": round(throughput_ratio, 3),
        "cpu_ratio": round(cpu_ratio, 3),
        "rounds": out,
        "pass": passed,
    }


def _render(doc: dict[str, Any]) -> str:
    med, added = doc["median"], doc["added_c1_p50_ms"]
    lines = [
        f"telemetry overhead ({doc['meta']['rounds']} rounds, {doc['meta']['loadgen']}, "
        f"{'gateways pinned to CPU ' + doc['meta']['pinned'] if doc['meta']['pinned'] else 'unpinned'}"
        f"{', tracing on' if doc['meta']['tracing'] else ''}; {doc['meta']['request_log_lines']} request log lines)",
        f"{'':<10}{'c=1 p50':>12}{'added':>10}{'c=32 req/s':>12}{'CPU/req':>10}{'CPU busy':>10}",
    ]
    for t in TARGETS:
        extra = f"{added[t]:>8.3f}ms" if t in added else f"{'':>10}"
        lines.append(f"{t:<10}{med[t]['c1_p50_ms']:>10.3f}ms{extra}{med[t]['c32_rps']:>12,.0f}{med[t]['cpu_us']:>8.0f}µs"
                     f"{med[t]['busy']:>10.2f}")
    lines += [
        f"added latency on/off: {doc['latency_ratio']:.3f} (limit {1 + LIMIT:.2f})",
        f"throughput on/off:    {doc['throughput_ratio']:.3f} (limit {1 - LIMIT:.2f})",
        f"CPU per request on/off: {doc['cpu_ratio']:.3f}",
        "PASS" if doc["pass"] else "FAIL",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
