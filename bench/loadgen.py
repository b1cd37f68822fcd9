"""Load generators: ``wrk`` when installed, a Python (aiohttp) fallback otherwise.

The machine has two cores shared by the load generator, the simulator and the proxy under test, so the load
generator's own CPU cost shows up in every figure. ``wrk`` (C, one epoll thread) costs a fraction of what a
Python client does; measured here against the simulator alone, wrk drives several times the request rate of
the Python fallback. Either one is used for every target of a run, so the ratios stay comparable.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import aiohttp

__all__ = ["LoadGenerator", "LoadResult", "PythonLoad", "WrkLoad", "pick"]

HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-bench"}


@dataclass(frozen=True, slots=True)
class LoadResult:
    concurrency: int
    requests: int
    seconds: float
    errors: int
    """Non-2xx answers, connection errors and timeouts: a run with any is not a valid measurement."""
    p50_ms: float
    p90_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @classmethod
    def median_of(cls, slices: list[LoadResult]) -> LoadResult:
        """Several short runs as one: counts add up, each latency percentile is the median slice's."""
        return cls(
            concurrency=slices[0].concurrency,
            requests=sum(r.requests for r in slices),
            seconds=sum(r.seconds for r in slices),
            errors=sum(r.errors for r in slices),
            p50_ms=statistics.median(r.p50_ms for r in slices),
            p90_ms=statistics.median(r.p90_ms for r in slices),
            p99_ms=statistics.median(r.p99_ms for r in slices),
        )

    def as_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "rps": round(self.rps, 1)}


class LoadGenerator(Protocol):
    name: str

    def run(self, url: str, body: bytes, concurrency: int, seconds: int) -> LoadResult: ...


# wrk calls done() once at the end; it prints one JSON line the harness picks out of wrk's own report.
# Latencies are microseconds from wrk's HdrHistogram.
_WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = [==[%s]==]

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %%d, "us": %%d, "errors": %%d, "p50": %%d, "p90": %%d, "p99": %%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""


class WrkLoad:
    name = "wrk"

    def __init__(self, binary: str, work_dir: Path) -> None:
        self._binary = binary
        self._work_dir = work_dir
        self._scripts: dict[bytes, Path] = {}

    def _script(self, body: bytes) -> Path:
        path = self._scripts.get(body)
        if path is None:
            if b"]==]" in body:
                raise ValueError("request body cannot be embedded in the wrk script")
            path = self._work_dir / f"wrk-{len(self._scripts)}.lua"
            path.write_text(_WRK_SCRIPT % body.decode(), encoding="utf-8")
            self._scripts[body] = path
        return path

    def run(self, url: str, body: bytes, concurrency: int, seconds: int) -> LoadResult:
        argv = [
            self._binary, "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "5s",
            "-s", str(self._script(body)), url,
        ]
        # subprocess.run kills wrk if this process is interrupted while waiting.
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=False)
        line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
        if done.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        data = json.loads(line.removeprefix("BENCH_JSON "))
        return LoadResult(
            concurrency=concurrency,
            requests=data["requests"],
            seconds=data["us"] / 1e6,
            errors=data["errors"],
            p50_ms=data["p50"] / 1000,
            p90_ms=data["p90"] / 1000,
            p99_ms=data["p99"] / 1000,
        )


class PythonLoad:
    """``concurrency`` workers, each sending its next request when the last one is answered (closed loop),
    over one keep-alive connection each: the same shape as wrk's."""

    name = "python (aiohttp)"

    def run(self, url: str, body: bytes, concurrency: int, seconds: int) -> LoadResult:
        return asyncio.run(_python_load(url, body, concurrency, seconds))


async def _python_load(url: str, body: bytes, concurrency: int, seconds: float) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=HEADERS) as response:
                        await response.read()
                        ok = response.status < 300
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - sent)
                else:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return LoadResult(
        concurrency=concurrency,
        requests=len(latencies) + errors,
        seconds=elapsed,
        errors=errors,
        p50_ms=_percentile(latencies, 50) * 1000,
        p90_ms=_percentile(latencies, 90) * 1000,
        p99_ms=_percentile(latencies, 99) * 1000,
    )


def _percentile(ordered: list[float], pct: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def pick(choice: str, work_dir: Path) -> tuple[LoadGenerator, str | None]:
    """The load generator to use, and a note to print when it is not the preferred one."""
    binary = shutil.which("wrk")
    if choice == "wrk" and binary is None:
        raise SystemExit("--loadgen wrk: wrk is not installed (Debian/Ubuntu: apt-get install -y wrk)")
    if choice != "python" and binary is not None:
        return WrkLoad(binary, work_dir), None
    if choice == "python":
        return PythonLoad(), "using the Python load generator as asked (--loadgen python)"
    return PythonLoad(), (
        "wrk not found, falling back to the Python load generator. It shares the 2 cores with the servers "
        "it measures, so absolute figures are lower and less stable; install wrk for the real numbers "
        "(Debian/Ubuntu: apt-get install -y wrk)."
    )
