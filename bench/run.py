"""Switchyard benchmark: the gateway against a bare passthrough, both in front of the simulator, in one run.

Starts three processes on free loopback ports — the provider simulator, the bare aiohttp passthrough
(``bench/passthrough.py``) and the gateway (``switchyard serve``, one worker) — then measures the gateway's time
to ready, runs the same load against each target (direct to the simulator, through the passthrough, through the
gateway) at concurrency 1 and 32 for several interleaved rounds, and reports absolute figures, the overhead
each proxy adds, and the gateway's ratios to the passthrough against the targets. Results also go to
``bench/results/latest.json``. Exits 1 when a target is missed.

Run: ``make bench`` or ``.venv/bin/python bench/run.py [--rounds 3] [--loadgen auto|wrk|python]``.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from loadgen import LoadGenerator, LoadResult, pick
from procs import Service, Services, cpu_seconds, free_port, memory_kib, upstream_time_waits
from report import TARGETS, Measurements, build, render

BENCH_DIR = Path(__file__).resolve().parent
PATH = "/v1/chat/completions"
MODEL = "gpt-4o-mini"
_MESSAGES = [
    {"role": "system", "content": "You are a concise assistant for a logistics company. Answer in plain English."},
    {"role": "user", "content": "What is the usual transit time for a 40-foot container from Rotterdam to New York, "
                                "and what can delay it?"},
]
# The gateway forwards the model name unchanged (the deployment is named after its upstream model), so the
# simulator does the same work for every target.
BODY = json.dumps({"model": MODEL, "messages": _MESSAGES, "max_tokens": 64, "temperature": 0.2}).encode()
# The gateway always asks upstream for stream usage; ask for it directly too, for the same upstream stream.
STREAM_BODY = json.dumps({
    "model": MODEL, "messages": _MESSAGES, "max_tokens": 64, "stream": True, "stream_options": {"include_usage": True}
}).encode()


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Gateway vs bare passthrough, both in front of the simulator.")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved measurement rounds (median reported)")
    parser.add_argument("--c1-seconds", type=int, default=2,
                        help="concurrency-1 time per target per round, run as interleaved one-second slices")
    parser.add_argument("--c32-seconds", type=int, default=3, help="duration of each concurrency-32 run")
    parser.add_argument("--warmup-seconds", type=int, default=2)
    parser.add_argument("--starts", type=int, default=3, help="gateway starts timed for time-to-ready")
    parser.add_argument("--no-stream", action="store_true", help="skip the streaming round")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--passthrough-client", choices=["aiohttp", "http1"], default="aiohttp",
                        help="the passthrough's upstream client: aiohttp (the baseline the targets name) or the "
                             "gateway's own http1 client (a stricter baseline, for information)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "latest.json")
    return parser.parse_args()


def _gateway_config(sim: Service, directory: Path) -> Path:
    config = {
        "providers": {"sim": {"type": "openai", "api_key": "sk-bench", "base_url": f"{sim.url}/v1"}},
        "models": {MODEL: {"provider": "sim", "model": MODEL}},
        # The ledger is on, as in any deployment: every request is priced and recorded (SQLite, batched).
        "ledger": {"url": f"sqlite:///{directory / 'usage.db'}"},
    }
    path = directory / "gateway.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return path


def _check_answers(url: str, body: bytes) -> None:
    """One request before the load: a target that answers with an error would make its figures meaningless."""
    host, _, port = url.removeprefix("http://").partition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", PATH, body, {"content-type": "application/json", "authorization": "Bearer sk-b"})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    if response.status != 200 or b'"choices"' not in data:
        raise RuntimeError(f"{url}{PATH} answered {response.status}: {data[:300]!r}")


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _describe(result: LoadResult) -> str:
    return f"{result.rps:8,.0f} req/s  p50 {result.p50_ms:6.3f} ms  p99 {result.p99_ms:6.3f} ms" + (
        f"  ERRORS {result.errors}" if result.errors else ""
    )


def _git_revision() -> str:
    try:
        rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=BENCH_DIR, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev


def _bench(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    loadgen, note = pick(args.loadgen, work)
    if note:
        _say(f"note: {note}")
    python = sys.executable
    m = Measurements(meta={
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "revision": _git_revision(),
        "loadgen": loadgen.name,
        "rounds": args.rounds,
        "c1_seconds": args.c1_seconds,
        "c32_seconds": args.c32_seconds,
        "body_bytes": len(BODY),
        "passthrough_client": args.passthrough_client,
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    })
    with Services(work) as services:
        sim_port = free_port()
        sim = services.start(
            "simulator", [python, "-m", "switchyard.cli", "simulate", "--port", str(sim_port)], sim_port
        )
        sim.wait_ready()
        pt_port = free_port()
        passthrough = services.start(
            "passthrough",
            [python, str(BENCH_DIR / "passthrough.py"), "--upstream", sim.url, "--port", str(pt_port), "--client",
             args.passthrough_client],
            pt_port,
        )
        passthrough.wait_ready()
        config = _gateway_config(sim, work)

        # Time to ready: fresh processes, spawn → first 200 on /health; the last one stays up for the load.
        gateway: Service | None = None
        for i in range(args.starts):
            if gateway is not None:
                services.stop(gateway)
            port = free_port()
            gateway = services.start(
                "gateway", [python, "-m", "switchyard.cli", "serve", "--config", str(config), "--port", str(port)], port
            )
            m.ready_s.append(gateway.wait_ready())
            _say(f"gateway start {i + 1}/{args.starts}: ready in {m.ready_s[-1]:.3f} s")
        assert gateway is not None

        urls = {"direct": sim.url + PATH, "passthrough": passthrough.url + PATH, "gateway": gateway.url + PATH}
        server = {"direct": sim, "passthrough": passthrough, "gateway": gateway}
        for url in urls.values():
            _check_answers(url.removesuffix(PATH), BODY)
            if not args.no_stream:
                _check_answers(url.removesuffix(PATH), STREAM_BODY)

        for target in TARGETS:
            before = upstream_time_waits(sim.port)
            warm = loadgen.run(urls[target], BODY, 32, args.warmup_seconds)
            if target != "direct":
                m.upstream_closes[target] = max(0, upstream_time_waits(sim.port) - before)
            _say(f"warmup {target:<12} {_describe(warm)}")

        for round_index in range(args.rounds):
            # Rotate the order each round so no target always runs first (or last) in a round.
            order = TARGETS[round_index % 3 :] + TARGETS[: round_index % 3]
            _round(loadgen, m, order, urls, {t: s.pid for t, s in server.items()}, args)
            for target in order:
                label = f"round {round_index + 1}/{args.rounds} {target:<12}"
                _say(f"{label} c=1  {_describe(m.c1[target][-1])}")
                _say(f"{label} c=32 {_describe(m.c32[target][-1])}")

        if not args.no_stream:
            for target in TARGETS:
                m.stream_c1[target] = loadgen.run(urls[target], STREAM_BODY, 1, 2)
                m.stream_c32[target] = loadgen.run(urls[target], STREAM_BODY, 32, 3)
                _say(f"stream   {target:<12} c=32 {_describe(m.stream_c32[target])}")

        for name, service in (("gateway", gateway), ("passthrough", passthrough)):
            m.memory_kib[name] = memory_kib(service.pid)
    return build(m)


def _round(
    loadgen: LoadGenerator,
    m: Measurements,
    order: tuple[str, ...],
    urls: dict[str, str],
    pids: dict[str, int],
    args: argparse.Namespace,
) -> None:
    """One round: latency at c=1, then throughput at c=32 with the serving process's CPU per request."""
    # c=1 latencies are a few hundred microseconds, so where the scheduler happens to place the processes
    # moves them by tens: one-second slices that take turns between targets expose all three to the same
    # conditions, and the median slice stands for the round.
    slices: dict[str, list[LoadResult]] = {t: [] for t in order}
    for _ in range(args.c1_seconds):
        for target in order:
            slices[target].append(loadgen.run(urls[target], BODY, 1, 1))
    for target in order:
        m.c1[target].append(LoadResult.median_of(slices[target]))
    for target in order:
        cpu_before = cpu_seconds(pids[target])
        result = loadgen.run(urls[target], BODY, 32, args.c32_seconds)
        m.cpu_us[target].append((cpu_seconds(pids[target]) - cpu_before) / max(1, result.requests) * 1e6)
        m.c32[target].append(result)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Handled like Ctrl-C: the exception unwinds through `with Services`, which stops every server started.
    raise KeyboardInterrupt


def main() -> int:
    args = _parse_args()
    if importlib.util.find_spec("switchyard") is None:
        _say(f"error: {sys.executable} cannot import switchyard; run `make bench` or .venv/bin/python bench/run.py")
        return 2
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="switchyard-bench-") as work:
            doc = _bench(args, Path(work))
    except KeyboardInterrupt:
        _say("interrupted; every server started has been stopped")
        return 130
    doc["meta"]["bench_seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(render(doc))
    print(f"\nresults: {args.out}  ({doc['meta']['bench_seconds']} s)")
    return 0 if doc["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
