"""What the Redis-backed admission costs per request: ``python bench/governance.py``.

One admission is one ``EVALSHA`` of ``state/lua/admit.lua``: a key's RPM and TPM, a model limit, a deployment
limit group, and three budgets (global daily, team monthly, key rolling) — more than most requests carry.
Measured sequentially (the latency one request adds) and at concurrency 32 (what the script costs Redis under
load). The memory store is measured alongside for scale. Target: p99 ≤ 1 ms on loopback.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid

from switchyard.state import MemoryStore, StateStore
from switchyard.state.ops import Admit, BudgetCheck, RateCheck, Settle
from switchyard.state.redis import RedisStore

N = 5000


def admission(store: StateStore, member: str) -> tuple[Admit, Settle]:
    budgets = [
        BudgetCheck(key=store.key("budget", "global", "-", "0", "d20261123"), name="global", limit=10**15,
                    expires_at=time.time() + 3600),
        BudgetCheck(key=store.key("budget", "team", "search", "1", "m202611"), name="team", limit=10**15,
                    expires_at=time.time() + 3600),
        BudgetCheck(key=store.key("budget", "key", "k1", "own0", "rolling"), name="key", limit=10**15,
                    rolling_s=3600.0),
    ]
    limits = [
        RateCheck(key=store.key("rate", "key", "k1", "rpm"), name="rpm", limit=10**9, amount=1),
        RateCheck(key=store.key("rate", "key", "k1", "tpm"), name="tpm", limit=10**12, amount=1500),
        RateCheck(key=store.key("rate", "model", "fast", "rpm"), name="model rpm", limit=10**9, amount=1),
        RateCheck(key=store.key("rate", "deployment", "gpt", "rpm"), name="dep rpm", limit=10**9, amount=1, group=1),
    ]
    admit = Admit(member=member, limits=limits, budgets=budgets, amount=30_000_000)
    settle = Settle(member=member, budgets=budgets, actual=12_000_000,
                    limits=[RateCheck(key=limits[1].key, name="tpm", limit=10**12, amount=900)])
    return admit, settle


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def sequential(store: StateStore) -> list[float]:
    times: list[float] = []
    for _ in range(N):
        admit, settle = admission(store, uuid.uuid4().hex)
        started = time.perf_counter()
        result = await store.admit(admit)
        times.append((time.perf_counter() - started) * 1000)
        assert result.ok
        await store.settle(settle)
    return times


async def concurrent(store: StateStore, workers: int = 32) -> tuple[list[float], float]:
    times: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            admit, settle = admission(store, uuid.uuid4().hex)
            started = time.perf_counter()
            await store.admit(admit)
            times.append((time.perf_counter() - started) * 1000)
            await store.settle(settle)

    started = time.perf_counter()
    await asyncio.gather(*(worker(N // workers) for _ in range(workers)))
    return times, len(times) / (time.perf_counter() - started)


def line(name: str, times: list[float]) -> str:
    return (f"  {name:<28} p50 {statistics.median(times):6.3f} ms   p99 {pct(times, 0.99):6.3f} ms   "
            f"max {max(times):6.3f} ms")


async def main() -> int:
    redis_store = RedisStore(namespace=f"bench-{uuid.uuid4().hex[:8]}")
    if not await redis_store.ping():
        print("Redis at 127.0.0.1:6379 is not reachable", file=sys.stderr)
        return 2
    memory = MemoryStore()
    try:
        await sequential(redis_store)  # warm-up: script cache, connection pool
        redis_seq = await sequential(redis_store)
        redis_conc, rate = await concurrent(redis_store)
        memory_seq = await sequential(memory)
    finally:
        await redis_store.flush_namespace()
        await redis_store.aclose()
    print(f"Admission (4 limits, 3 budgets), {N} requests each")
    print(line("redis, sequential", redis_seq))
    print(line("redis, 32 concurrent", redis_conc) + f"   {rate:,.0f} admissions/s (incl. settle)")
    print(line("memory, sequential", memory_seq))
    p99 = pct(redis_seq, 0.99)
    verdict = "PASS" if p99 <= 1.0 else "FAIL"
    print(f"{verdict}: Redis-backed admission adds p99 {p99:.3f} ms per request (target ≤ 1 ms)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
