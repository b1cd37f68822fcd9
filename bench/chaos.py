"""Chaos scenarios against the provider simulator, measured: ``python bench/chaos.py``.

Each scenario runs the embeddable gateway (the same pipeline as the server) against the simulator under sustained
concurrent load while a fault is injected, and reports success rate, latency and, at the end, leaks:

- outage: the primary fails completely mid-run, then recovers; one fallback stays healthy.
  Acceptance: 100 % success; p99 added latency once the breaker is open ≤ 20 ms over the healthy phase; the
  breaker closes within one probe after recovery.
- storm: 429s with Retry-After on the primary.
- hang: the primary hangs (first-token timeout takes over).
- cut / garbled / slow-drip: broken streams and bodies.
Leaks: open file descriptors, asyncio tasks and pooled upstream connections before and after, once idle.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

from switchyard import ChatRequest, Gateway, Message, parse_config
from switchyard.simulator import Simulator

CONCURRENCY = 16
LATENCY_MS = 5.0


def config(base_url: str) -> dict[str, Any]:
    return {
        "providers": {
            "primary": {"type": "openai", "api_key": "sk-chaos", "base_url": f"{base_url}/v1",
                        "timeout": {"read": 1.0, "first_token": 0.5, "total": 5}},
            "backup": {"type": "anthropic", "api_key": "ant-chaos", "base_url": base_url},
        },
        "models": {
            "main": {"provider": "primary", "model": "gpt-chaos"},
            "spare": {"provider": "backup", "model": "claude-sonnet-4-6"},
        },
        "routes": {"app": {"targets": ["main"], "fallbacks": ["spare"]}},
        "resilience": {"breaker": {"failures": 3, "cooldown_s": 1.0},
                       "retry": {"backoff_base_s": 0.01, "backoff_max_s": 0.05}},
    }


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def load(gw: Gateway, total: int, *, stream: bool = False) -> tuple[int, list[float], list[str]]:
    """``total`` requests at ``CONCURRENCY``; returns (successes, latencies in ms, answering deployments)."""
    queue = iter(range(total))
    ok, latencies, who = 0, [], []

    async def worker() -> None:
        nonlocal ok
        for _ in queue:
            request = ChatRequest(model="app", messages=[Message.user("one two three four five six")], stream=stream)
            started = time.perf_counter()
            try:
                if stream:
                    chat_stream = await gw.stream(request)
                    text = "".join([c.text or "" async for c in chat_stream])
                    deployment = chat_stream.meta.deployment
                else:
                    response = await gw.chat(request)
                    text, deployment = response.text, response.meta.deployment if response.meta else "?"
            except Exception as exc:
                who.append(f"error: {type(exc).__name__}")
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            ok += bool(text)
            who.append(deployment)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return ok, latencies, who


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def outage(sim: Simulator, gw: Gateway) -> dict[str, Any]:
    sim.set_faults("*", {"latency": {"ms": LATENCY_MS}})
    ok0, healthy, _ = await load(gw, 400)
    sim.set_faults("openai", {"latency": {"ms": LATENCY_MS}, "error_rate": 1.0, "error_status": 503})
    ok1, during, who = await load(gw, 1200)
    breaker = (await gw.breaker.snapshot("main")).state
    open_phase = during[200:]  # after the breaker has opened (it opens within the first few failures)
    sim.set_faults("openai", {"latency": {"ms": LATENCY_MS}})
    await asyncio.sleep(gw.config.resilience.breaker.cooldown_s + 0.05)
    before = sim.requests.get("openai:gpt-chaos", 0)
    await load(gw, 1)  # the first request after the cooldown is the probe
    probes = sim.requests.get("openai:gpt-chaos", 0) - before
    closed = (await gw.breaker.snapshot("main")).state
    ok2, _, after = await load(gw, 200)
    return {
        "requests": 400 + 1200 + 200, "succeeded": ok0 + ok1 + ok2,
        "success_rate_outage": ok1 / 1200,
        "breaker_during_outage": breaker,
        "p99_healthy_ms": p(healthy, 0.99), "p99_breaker_open_ms": p(open_phase, 0.99),
        "p99_added_ms": p(open_phase, 0.99) - p(healthy, 0.99),
        "served_by_fallback_during_outage": who.count("spare") / len(who),
        "probe_requests_to_close": probes, "breaker_after_recovery": closed,
        "served_by_primary_after_recovery": after.count("main") / len(after),
    }


async def scenario(sim: Simulator, gw: Gateway, faults: dict[str, Any], *, stream: bool = False) -> dict[str, Any]:
    sim.set_faults("openai", {"latency": {"ms": LATENCY_MS}, **faults})
    ok, latencies, who = await load(gw, 300, stream=stream)
    sim.set_faults("openai", {"latency": {"ms": LATENCY_MS}})
    await asyncio.sleep(gw.config.resilience.breaker.cooldown_s + 0.05)
    await load(gw, 20)  # let the breaker probe and close before the next scenario
    return {"requests": 300, "succeeded": ok, "p50_ms": p(latencies, 0.5), "p99_ms": p(latencies, 0.99),
            "by_fallback": who.count("spare") / len(who)}


async def main() -> int:
    async with Simulator() as sim:
        gw = Gateway(parse_config(config(sim.base_url)))
        async with gw:
            await load(gw, 50)  # warm connections
            fds0, tasks0 = fds(), len(asyncio.all_tasks())
            results: dict[str, Any] = {"outage": await outage(sim, gw)}
            results["429 storm"] = await scenario(sim, gw, {"rate_limit_rate": 1.0, "retry_after_s": 1})
            results["hung upstream (stream)"] = await scenario(sim, gw, {"hang_rate": 0.5, "hang_s": 5}, stream=True)
            results["cut streams"] = await scenario(sim, gw, {"cut_stream_rate": 0.5, "cut_after_chunks": 0},
                                                    stream=True)
            results["garbled JSON"] = await scenario(sim, gw, {"garbled_rate": 0.5})
            results["slow-drip stream"] = await scenario(
                sim, gw, {"chunk_delay": {"ms": 20}}, stream=True)
            sim.clear_faults()
            await asyncio.sleep(0.5)
            leaks = {"fds_before": fds0, "fds_after": fds(), "tasks_before": tasks0,
                     "tasks_after": len(asyncio.all_tasks())}
        leaks["connections_after_close"] = fds() - fds0
        results["leaks"] = leaks
    failed = False
    for name, figures in results.items():
        print(f"{name}:")
        for key, value in figures.items():
            print(f"  {key:36} {value:.3f}" if isinstance(value, float) else f"  {key:36} {value}")
    o = results["outage"]
    checks = [
        ("100 % success through the outage", o["success_rate_outage"] == 1.0),
        ("p99 added latency with breaker open <= 20 ms", o["p99_added_ms"] <= 20),
        ("breaker closes within one probe",
         o["probe_requests_to_close"] <= 1 and o["breaker_after_recovery"] == "closed"),
        ("every chaos scenario 100 % success", all(r["succeeded"] == r["requests"] for k, r in results.items()
                                                    if k not in ("outage", "leaks"))),
        ("no leaked tasks", leaks["tasks_after"] <= leaks["tasks_before"]),
        ("no leaked file descriptors", leaks["fds_after"] <= leaks["fds_before"]),
    ]
    print()
    for label, passed in checks:
        failed |= not passed
        print(f"  {'PASS' if passed else 'FAIL'}  {label}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
