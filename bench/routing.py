"""What routing adds to a request: microseconds per ``Router.plan()`` for each strategy.

The router is the gateway's own (real configuration, bundled catalog, a memory-backed breaker), the request a
typical chat turn (system prompt, a few hundred characters of user text). ``baseline`` is the plan lookup the
router did before strategies and filters existed (one dictionary lookup), so the difference is the cost added.
For the prompt-reading strategies, ``--classify`` also times the classifier inline, on a shared thread pool (of
1, 2 and 4 threads) and through ``asyncio.to_thread``, with 16 requests in flight, and the longest the event loop
was kept from running meanwhile.

Run: ``.venv/bin/python bench/routing.py [--n 100000] [--classify]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from switchyard import ChatRequest, Gateway, Message, parse_config
from switchyard.routing.classified import Offload

MODELS = {
    "mini": {"provider": "openai", "model": "gpt-4o-mini", "rpm": 10_000, "quality": 0.7},
    "nano": {"provider": "openai", "model": "gpt-4.1-nano", "tpm": 2_000_000, "quality": 0.5},
    "sonnet": {"provider": "anthropic", "model": "claude-sonnet-4-6", "quality": 0.9},
    "opus": {"provider": "anthropic", "model": "claude-opus-4-1", "quality": 0.95},
    "flash": {"provider": "gemini", "model": "gemini-2.0-flash", "quality": 0.6},
}
TARGETS = ["sonnet", "mini", "nano"]
ROUTES: dict[str, Any] = {
    "priority": {"targets": TARGETS, "fallbacks": ["flash"]},
    "weighted": {"strategy": "weighted", "targets": TARGETS, "fallbacks": ["flash"]},
    "least-busy": {"strategy": "least-busy", "targets": TARGETS, "fallbacks": ["flash"]},
    "latency": {"strategy": "latency", "targets": TARGETS, "fallbacks": ["flash"]},
    "latency-p90": {"strategy": "latency", "targets": TARGETS, "fallbacks": ["flash"], "latency": {"percentile": 0.9}},
    "cost": {"strategy": "cost", "targets": TARGETS, "fallbacks": ["flash"]},
    "quality": {"strategy": "quality", "targets": TARGETS, "fallbacks": ["flash"]},
    "usage": {"strategy": "usage", "targets": TARGETS, "fallbacks": ["flash"]},
    "experiment": {"targets": TARGETS, "experiment": {"arms": {"a": {"targets": ["mini", "nano"]},
                                                                "b": {"targets": ["sonnet", "opus"]}}}},
    "affinity": {"strategy": "weighted", "targets": TARGETS, "affinity": "user"},
    "classify": {"strategy": "classify", "tasks": {"coding": ["sonnet", "mini"], "math": ["opus"]},
                 "default": ["mini", "nano"]},
}


def gateway() -> Gateway:
    offline = "http://127.0.0.1:1"
    return Gateway(parse_config({
        "providers": {
            "openai": {"type": "openai", "api_key": "k", "base_url": f"{offline}/v1"},
            "anthropic": {"type": "anthropic", "api_key": "k", "base_url": offline},
            "gemini": {"type": "gemini", "api_key": "k", "base_url": offline},
        },
        "models": MODELS,
        "routes": ROUTES,
    }, env={}))


def request(model: str) -> ChatRequest:
    return ChatRequest(model=model, messages=[
        Message.system("You are a helpful assistant. Answer briefly and cite sources when you can."),
        Message.user("Compare the trade-offs of write-ahead logging and shadow paging for a small embedded "
                     "database that must survive power loss, and say which one you would pick and why. " * 2),
    ], max_tokens=512)


def per_call_us(fn: Callable[[], object], n: int, repeats: int = 5) -> float:
    """Median over ``repeats`` runs of ``n`` calls, in microseconds of this thread's CPU per call: CPU time, not
    wall time, so that other processes on a shared machine do not count."""
    runs = []
    for _ in range(repeats):
        started = time.thread_time()
        for _ in range(n):
            fn()
        runs.append((time.thread_time() - started) / n * 1e6)
    return statistics.median(runs)


def plans(n: int) -> None:
    gw = gateway()
    router = gw.router
    for name in MODELS:
        for ms in (300.0, 320.0, 280.0, 310.0, 900.0, 305.0):
            gw.health.success(name, ms)
    requests = {name: request(name) for name in [*ROUTES, "mini"]}
    old = {name: object() for name in requests}  # what the router did before: one dict lookup by name
    probe = requests["priority"]
    baseline = per_call_us(lambda: old.get(probe.model), n)
    print(f"{'route':<14} {'us/plan':>8} {'added':>8}")
    print(f"{'baseline':<14} {baseline:8.2f} {0:8.2f}")
    for name, req in requests.items():
        if name == "classify":
            continue
        if name in ("experiment", "affinity"):
            us = per_call_us(lambda r=req: router.plan(r, user="user-42"), n)
        else:
            us = per_call_us(lambda r=req: router.plan(r), n)
        print(f"{name if name in ROUTES else 'direct model':<14} {us:8.2f} {us - baseline:8.2f}")
    tagged = request("priority")
    tagged.tags = ["eu"]
    router.routing.tags.update({"eu": []})
    us = per_call_us(lambda: router.plan(tagged), n)
    print(f"{'priority+tags':<14} {us:8.2f} {us - baseline:8.2f}")


async def classify(concurrency: int = 16, rounds: int = 20) -> None:
    """Throughput of the embedding tier, and the worst event-loop stall while it runs (what every other request
    in flight would wait), inline against a shared pool and ``asyncio.to_thread``."""
    gw = gateway()
    router = gw.router
    chooser = router._routes["classify"].chooser  # the bench looks inside on purpose
    assert chooser is not None
    await router.warm()
    coding = request("classify")
    coding.messages[-1] = Message.user("Fix this:\n```python\nprint(1/0)\n```")
    rules = per_call_us(lambda: chooser.quick(coding, router.offload), 2000, repeats=3)
    print(f"rules tier (inline):      {rules:8.1f} us per request")
    essay = request("classify")
    essay.messages[-1] = Message.user("Summarise the main trade-offs between microservices and a monolith")
    single = per_call_us(lambda: chooser.full(essay), 50, repeats=3)
    print(f"embedding tier (one call): {single / 1000:7.2f} ms per request")

    async def measure(work: Callable[[], Any]) -> tuple[float, float]:
        lags: list[float] = []
        stop = False

        async def ticker() -> None:
            while not stop:
                started = time.perf_counter()
                await asyncio.sleep(0.001)
                lags.append((time.perf_counter() - started) * 1e3 - 1)

        tick = asyncio.ensure_future(ticker())
        started = time.perf_counter()
        for _ in range(rounds):
            await asyncio.gather(*(work() for _ in range(concurrency)))
        elapsed = (time.perf_counter() - started) / (rounds * concurrency) * 1e3
        stop = True
        await tick
        return elapsed, max(lags)

    async def inline() -> None:
        chooser.full(essay)

    pools = {threads: Offload(threads) for threads in (1, 2, 4)}

    def pooled(offload: Offload) -> Callable[[], Any]:
        async def work() -> None:
            await offload.run(chooser.full, essay)

        return work

    async def to_thread() -> None:
        await asyncio.to_thread(chooser.full, essay)

    print(f"{concurrency} in flight:")
    runs: list[tuple[str, Callable[[], Any]]] = [("inline", inline)]
    runs += [(f"shared pool of {n}", pooled(offload)) for n, offload in pools.items()]
    runs.append(("asyncio.to_thread", to_thread))
    for label, work in runs:
        per, worst = await measure(work)
        print(f"  {label:<18} {per:6.2f} ms/request (throughput)   worst event-loop stall {worst:7.2f} ms")
    for offload in pools.values():
        offload.close()
    router.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--classify", action="store_true")
    args = parser.parse_args()
    plans(args.n)
    if args.classify:
        asyncio.run(classify())
    return 0


if __name__ == "__main__":
    sys.exit(main())
