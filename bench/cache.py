"""What the exact cache adds to a request, and what a hit costs: ``python bench/cache.py``.

Two views, for the memory and the Redis backend (Redis at 127.0.0.1:6379):

- **Cache work per request**, timed around the cache's own calls on a typical request (a system prompt and a user
  turn, ~330 bytes of JSON, as in ``bench/run.py``) and a ~1 KB answer, back to back: a miss is the lookup (key,
  one backend read) plus the store (encoding, compression for Redis; in the background, so it runs while the next
  lookup waits and is timed there; on Redis its write travels in that lookup's round trip); a hit is the lookup
  plus decoding the answer.
- **End to end in process**: ``Gateway.chat()`` against the simulator (no injected latency) with the cache off, on
  with every request a miss, and on with every request a hit, in alternating slices so the three see the same
  machine, at concurrency 1 (latency) and 32 (CPU per request, the throughput cost).

Run: ``.venv/bin/python bench/cache.py [--n 5000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
import uuid
from typing import Any

import redis.asyncio as aioredis

from switchyard import ChatRequest, Gateway, Message, parse_config
from switchyard.cache import ResponseCache
from switchyard.governance.principal import Principal
from switchyard.simulator import Simulator
from switchyard.types import ChatResponse, Choice, Usage

REDIS = "redis://127.0.0.1:6379/0"
SYSTEM = "You are a helpful assistant for a rail operator. Answer briefly and cite the timetable when relevant."
ANSWER = "The 8:15 from Lisbon to Porto runs daily except on public holidays, calling at Coimbra. " * 12


def request(i: int) -> ChatRequest:
    return ChatRequest(
        model="gpt",
        messages=[Message.system(SYSTEM), Message.user(f"When does the morning train to Porto leave? (case {i})")],
        temperature=0.2,
        max_tokens=256,
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def config(sim_url: str, cache: dict[str, Any] | None) -> Any:
    return parse_config({
        "providers": {"openai": {"type": "openai", "api_key": "k", "base_url": f"{sim_url}/v1"}},
        "models": {"gpt": {"provider": "openai", "model": "gpt-4o-mini"}},
        "ledger": {"enabled": False},
        "cache": cache or {"enabled": False},
    }, env={})


async def cache_work(cache: ResponseCache, n: int) -> dict[str, list[float]]:
    """Microseconds of the cache's own calls per request: miss (lookup + store) and hit (lookup + decode)."""
    gateway_plan = _Plan()
    principal = Principal()
    response = ChatResponse(
        id="chatcmpl-bench", model="gpt-4o-mini", usage=Usage(input_tokens=60, output_tokens=250),
        choices=[Choice(index=0, message=Message.assistant(ANSWER), finish_reason="stop")],
    )
    miss: list[float] = []
    hit: list[float] = []
    run = uuid.uuid4().hex[:6]
    for i in range(n):
        req = request(i)
        req.extra = {"run": run}
        started = time.perf_counter()
        # The store's background work runs while the next lookup waits, so it is timed with that one.
        probe = await cache.lookup(req, principal, gateway_plan)  # type: ignore[arg-type]
        cache.store(probe, response, deployment="gpt", provider="openai", cost_usd=0.0001, request_id=str(i))
        miss.append((time.perf_counter() - started) * 1e6)
    await cache.flush()
    for i in range(n):
        req = request(i)
        req.extra = {"run": run}
        started = time.perf_counter()
        probe = await cache.lookup(req, principal, gateway_plan)  # type: ignore[arg-type]
        assert probe.answer is not None
        probe.response()
        hit.append((time.perf_counter() - started) * 1e6)
    return {"miss": miss, "hit": hit}


class _Plan:
    """The two attributes of a routing plan the cache reads."""

    route = None
    requested = "gpt"
    decision = None


async def end_to_end(sim: Simulator, backend: dict[str, Any], n: int, concurrency: int) -> dict[str, Any]:
    """Per mode: latencies (ms) and process CPU per request (µs; the simulator's share is the same in every mode)."""
    off = Gateway(config(sim.base_url, None))
    on = Gateway(config(sim.base_url, {"enabled": True, **backend}))
    times: dict[str, list[float]] = {"off": [], "miss": [], "hit": []}
    cpu: dict[str, float] = dict.fromkeys(times, 0.0)
    hot = request(-1)
    counter = iter(range(2 * 10**6, 10**9))

    async def worker(gateway: Gateway, label: str, count: int) -> None:
        for _ in range(count):
            req = hot if label == "hit" else request(next(counter))
            started = time.perf_counter()
            await gateway.chat(req)
            times[label].append((time.perf_counter() - started) * 1000)

    async with off, on:
        assert on.cache is not None
        await on.chat(hot)
        for i in range(200):  # warm-up: connection pool, code paths
            await off.chat(request(i))
            await on.chat(request(10**6 + i))
        await on.cache.flush()
        slice_ = max(100, concurrency * 20)
        for _ in range(max(1, n // slice_)):
            for label, gateway in (("off", off), ("miss", on), ("hit", on)):
                began = _cpu()
                await asyncio.gather(*(worker(gateway, label, slice_ // concurrency) for _ in range(concurrency)))
                await on.cache.flush()  # the misses' stores belong to the misses
                cpu[label] += _cpu() - began
    return {"times": times, "cpu_us": {k: cpu[k] / len(times[k]) * 1e6 for k in times}}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def line(name: str, values: list[float], unit: str) -> str:
    return (f"  {name:<34} p50 {statistics.median(values):8.1f} {unit}   p99 {pct(values, 0.99):8.1f} {unit}")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    namespace = f"bench-cache-{uuid.uuid4().hex[:8]}"
    client = aioredis.Redis.from_url(REDIS)
    try:
        await client.ping()
    except OSError:
        print("Redis at 127.0.0.1:6379 is not reachable", file=sys.stderr)
        return 2
    backends = {"memory": {"backend": "memory"}, "redis": {"backend": "redis", "url": REDIS, "namespace": namespace}}
    try:
        async with Simulator() as sim:
            print(f"Cache work per request (µs), {args.n} requests each")
            for name, backend in backends.items():
                gateway = Gateway(config(sim.base_url, {"enabled": True, **backend}))
                async with gateway:
                    assert gateway.cache is not None
                    work = await cache_work(gateway.cache, args.n)
                print(line(f"{name}: miss (lookup + store)", work["miss"], "µs"))
                print(line(f"{name}: hit (lookup + decode)", work["hit"], "µs"))
            for concurrency in (1, 32):
                print(f"\nGateway.chat() in process at concurrency {concurrency}, {args.n} requests per mode, "
                      "alternating slices: p50 latency, process CPU per request (simulator included)")
                for name, backend in backends.items():
                    result = await end_to_end(sim, backend, args.n, concurrency)
                    times, cpu = result["times"], result["cpu_us"]
                    for label in ("off", "miss", "hit"):
                        print(f"  {name + ': cache ' + label:<22} p50 {statistics.median(times[label]):7.3f} ms   "
                              f"CPU {cpu[label]:5.0f} µs/request")
                    added = (statistics.median(times["miss"]) - statistics.median(times["off"])) * 1000
                    share = statistics.median(times["hit"]) / statistics.median(times["off"])
                    print(f"  {name}: a miss adds {added:+.0f} µs at p50 and {cpu['miss'] - cpu['off']:+.0f} µs of "
                          f"CPU; a hit takes {share:.0%} of the time of an upstream call")
    finally:
        found = [k async for k in client.scan_iter(match=f"{namespace}:*")]
        if found:
            await client.delete(*found)
        await client.aclose()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
