"""What routing adds to a request: microseconds per ``Router.plan()`` for each strategy.

The router is the gateway's own (real configuration, bundled catalog, a memory-backed breaker), the request a
typical chat turn (system prompt, a few hundred characters of user text). ``baseline`` is the plan lookup the
router did before strategies and filters existed (one dictionary lookup), so the difference is the cost added.
For the prompt-reading strategies, ``--classify`` also times the classifier inline, on a shared thread pool and
through ``asyncio.to_thread``, with 16 requests in flight.

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
    """Median over ``repeats`` runs of ``n`` calls, in microseconds per call."""
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - started) / n * 1e6)
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


async def classify(concurrency: int = 16, rounds: int = 50) -> None:
    """Latency of one event-loop tick while classifications run: what other requests would wait."""
    gw = gateway()
    planner = gw.router._routes["classify"]  # the bench looks inside on purpose
    chooser = planner.chooser
    assert chooser is not None
    req = request("classify")
    chooser(req)  # load the model before timing
    single = per_call_us(lambda: chooser(req), 200, repeats=3)
    print(f"classifier inline: {single:.0f} us per request (blocks the event loop for that long)")

    async def lag_during(work: Callable[[], Any]) -> tuple[float, float]:
        lags: list[float] = []
        stop = False

        async def ticker() -> None:
            while not stop:
                started = time.perf_counter()
                await asyncio.sleep(0)
                lags.append((time.perf_counter() - started) * 1e3)

        tick = asyncio.ensure_future(ticker())
        started = time.perf_counter()
        for _ in range(rounds):
            await asyncio.gather(*(work() for _ in range(concurrency)))
        elapsed = (time.perf_counter() - started) / (rounds * concurrency) * 1e6
        stop = True
        await tick
        return elapsed, max(lags)

    async def inline() -> None:
        chooser(req)

    async def pool() -> None:
        await gw.router.offload.run(chooser, req)

    async def to_thread() -> None:
        await asyncio.to_thread(chooser, req)

    for label, work in (("inline", inline), ("shared pool", pool), ("asyncio.to_thread", to_thread)):
        per, worst = await lag_during(work)
        print(f"{label:<18} {per:8.0f} us/request (throughput)   worst event-loop stall {worst:6.2f} ms")
    gw.router.close()


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
