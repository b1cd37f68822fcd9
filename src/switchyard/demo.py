"""``switchyard demo``: the simulator and the gateway on loopback, a scripted mix of requests through the
gateway's HTTP API (plain, streaming, tools, JSON schema, a fallback, a client error), and a table of what
happened. Needs no API keys and no network."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import uvicorn

from .config import load_config
from .gateway import Gateway
from .server.app import GatewayApp
from .simulator import Faults, Latency, Simulator

__all__ = ["run_demo"]

_WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
_CITY_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "city",
        "schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
            "required": ["name", "population"],
        },
    },
}


@dataclass
class _Step:
    title: str
    model: str
    prompt: str
    stream: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


STEPS = [
    _Step("plain", "gpt-4o-mini", "What is a switchyard?"),
    _Step("plain", "azure-gpt-4o", "Name three rail yards."),
    _Step("plain", "claude-sonnet", "Summarise the plot of Hamlet in one line."),
    _Step("plain", "gemini-flash", "Translate 'good morning' to French."),
    _Step("plain", "llama-groq", "Give me a haiku about routers."),
    _Step("plain", "llama-local", "Say hello from the local model."),
    _Step("stream", "gpt-4o-mini", "Stream a short greeting, please.", stream=True),
    _Step("stream", "claude-sonnet", "Stream a short story opening.", stream=True),
    _Step("stream", "gemini-flash", "Stream three words about trains.", stream=True),
    _Step("tools", "gpt-4o-mini", "What's the weather in Lisbon?", extra={"tools": [_WEATHER_TOOL]}),
    _Step("tools", "claude-sonnet", "What's the weather in Oslo?", extra={"tools": [_WEATHER_TOOL]}),
    _Step("tools", "gemini-flash", "What's the weather in Lima?", extra={"tools": [_WEATHER_TOOL]}),
    _Step("json schema", "claude-sonnet", "Describe Paris as JSON.", extra={"response_format": _CITY_SCHEMA}),
    _Step("fallback", "resilient", "Primary is down; who answers?"),
    _Step("client error", "no-such-model", "This model does not exist."),
]


@dataclass
class _Row:
    step: _Step
    status: int
    provider: str = "-"
    deployment: str = "-"
    attempts: str = "-"
    latency_ms: float = 0.0
    tokens: str = "-"
    cost: str = "-"
    reply: str = ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _run_step(session: aiohttp.ClientSession, url: str, step: _Step) -> _Row:
    body: dict[str, Any] = {"model": step.model, "messages": [{"role": "user", "content": step.prompt}]}
    body.update(step.extra)
    if step.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    started = time.perf_counter()
    async with session.post(
        f"{url}/v1/chat/completions", data=orjson.dumps(body), headers={"content-type": "application/json"}
    ) as response:
        row = _Row(step, response.status)
        row.provider = response.headers.get("x-switchyard-provider", "-")
        row.deployment = response.headers.get("x-switchyard-deployment", "-")
        row.attempts = response.headers.get("x-switchyard-attempts", "-")
        if response.status != 200:
            error = (await response.json()).get("error", {})
            row.reply = f"{error.get('type')}: {error.get('message', '')}"
        elif step.stream:
            texts, chunks = [], 0
            async for line in response.content:
                if line.startswith(b"data: {"):
                    event = orjson.loads(line[6:])
                    chunks += 1
                    for choice in event.get("choices", []):
                        texts.append(choice["delta"].get("content") or "")
                    if event.get("usage"):
                        row.tokens = f"{event['usage']['prompt_tokens']}/{event['usage']['completion_tokens']}"
                        row.cost = _dollars(event["usage"].get("cost_usd"))
            row.reply = f"[{chunks} chunks] " + "".join(texts)
        else:
            data = await response.json()
            message = data["choices"][0]["message"]
            calls = message.get("tool_calls") or []
            row.reply = (
                "tool call " + ", ".join(f"{c['function']['name']}({c['function']['arguments']})" for c in calls)
                if calls
                else message.get("content") or ""
            )
            row.tokens = f"{data['usage']['prompt_tokens']}/{data['usage']['completion_tokens']}"
            row.cost = _dollars(data["usage"].get("cost_usd"))
    row.latency_ms = (time.perf_counter() - started) * 1000
    return row


def _dollars(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.6f}"


def _print_table(rows: list[_Row]) -> None:
    headers = ["#", "what", "model asked", "status", "answered by", "attempts", "ms", "tokens in/out", "cost", "reply"]
    table = [
        [
            str(i),
            r.step.title,
            r.step.model,
            str(r.status),
            f"{r.provider}/{r.deployment}" if r.provider != "-" else "-",
            r.attempts,
            f"{r.latency_ms:.1f}",
            r.tokens,
            r.cost,
            (r.reply[:58] + "…") if len(r.reply) > 59 else r.reply,
        ]
        for i, r in enumerate(rows, 1)
    ]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("  ".join("─" * w for w in widths))
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


async def run_demo(config_path: Path | None = None) -> int:
    async with Simulator() as sim:
        # Realistic but quick provider latencies; the flaky deployment is down for the whole demo.
        sim.set_faults(
            "*", Faults(latency=Latency(dist="lognormal", ms=25, sigma=0.4, max_ms=200), chunk_delay=Latency(ms=4))
        )
        sim.set_faults("openai:gpt-4o-flaky", Faults(error_rate=1.0, error_status=503))
        env = {**os.environ, "SIM_URL": sim.base_url}
        if config_path is None:
            with resources.as_file(resources.files("switchyard") / "data" / "demo.yaml") as bundled:
                config = load_config(bundled, env=env)
        else:
            config = load_config(config_path, env=env)
        port = _free_port()
        gateway = Gateway(config)
        server = uvicorn.Server(
            uvicorn.Config(GatewayApp(gateway), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        serving = asyncio.ensure_future(server.serve())
        while not server.started:
            if serving.done():
                print("switchyard demo: the gateway failed to start", file=sys.stderr)
                return 1
            await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{port}"
        print(f"Switchyard demo — simulator at {sim.base_url}, gateway at {url}/v1\n")
        try:
            async with aiohttp.ClientSession() as session:
                rows = [await _run_step(session, url, step) for step in STEPS]
                acts = await _outage_act(session, url, sim)
                routing = await _routing_act(session, url)
                cached = await _cache_act(session, url, gateway) if gateway.cache is not None else []
        finally:
            server.should_exit = True
            await serving
    _print_table(rows)
    print("\nOutage act: 40 requests to route 'steady' (gpt-4o-mini, then claude-sonnet), 8 at a time;")
    print("gpt-4o-mini goes down (HTTP 503) for the middle phase and comes back for the last, where its")
    print("breaker, after its cooldown, lets one probe through and closes.\n")
    print(f"{'phase':<22}{'ok':>7}   answered by")
    for phase, ok, total, who in acts:
        spread = ", ".join(f"{name} {count}" for name, count in sorted(who.items()))
        print(f"{phase:<22}{f'{ok}/{total}':>7}   {spread}")
    _print_routing(routing)
    answered = sum(r.status == 200 for r in rows)
    providers = sorted({r.provider for r in rows if r.status == 200})
    print(
        f"\n{answered}/{len(rows)} answered by {len(providers)} providers ({', '.join(providers)}); "
        f"the fallback row shows a dead primary skipped; the last row shows a clean 404 for a bad model name."
    )
    cache_ok = _print_cache_act(cached, gateway)
    expected_failures = sum(r.step.title == "client error" for r in rows)
    act_ok = all(ok == total for _, ok, total, _ in acts) and all(r.status == 200 for r in routing)
    return 0 if answered == len(rows) - expected_failures and act_ok and cache_ok else 1


async def _outage_act(
    session: aiohttp.ClientSession, url: str, sim: Simulator
) -> list[tuple[str, int, int, dict[str, int]]]:
    async def one() -> tuple[bool, str]:
        body = {"model": "steady", "messages": [{"role": "user", "content": "Still there?"}]}
        async with session.post(f"{url}/v1/chat/completions", json=body) as response:
            await response.read()
            return response.status == 200, response.headers.get("x-switchyard-deployment", "-")

    async def phase(name: str, count: int) -> tuple[str, int, int, dict[str, int]]:
        who: dict[str, int] = {}
        ok = 0
        for start in range(0, count, 8):
            for success, deployment in await asyncio.gather(*(one() for _ in range(min(8, count - start)))):
                ok += success
                who[deployment] = who.get(deployment, 0) + 1
        return name, ok, count, who

    acts = [await phase("1 healthy", 12)]
    sim.set_faults("openai:gpt-4o-mini", Faults(error_rate=1.0, error_status=503))
    acts.append(await phase("2 primary down", 16))
    sim.clear_faults("openai:gpt-4o-mini")
    await asyncio.sleep(0.6)  # the breaker's cooldown: the next request probes the primary and closes it
    acts.append(await phase("3 primary back", 12))
    return acts


_CACHE_STEPS: list[tuple[str, str, dict[str, str], bool]] = [
    # (what, question, request headers, streamed)
    ("first ask", "How do I reverse a list in Python?", {}, False),
    ("same question", "How do I reverse a list in Python?", {}, False),
    ("same, streamed", "How do I reverse a list in Python?", {}, True),
    ("paraphrase", "How can I reverse a list in Python?", {}, False),
    ("different verb", "How do I sort a list in Python?", {}, False),
    ("different object", "How do I reverse a string in Python?", {}, False),
    ("negated", "How do I not reverse a list in Python?", {}, False),
    ("refresh", "How do I reverse a list in Python?", {"cache-control": "no-cache"}, False),
    ("marked personal", "How do I reverse a list in Python?", {"x-switchyard-personal": "1"}, False),
]
"""Expected: a miss, then hits for the repeat (also as a stream); a paraphrase is a semantic hit where the route
opts in and the semantic cache is installed, else a miss; different meanings never hit; controls skip."""


async def _cache_act(session: aiohttp.ClientSession, url: str, gateway: Gateway) -> list[tuple[str, str, str, float]]:
    rows = []
    for what, question, headers, streamed in _CACHE_STEPS:
        body: dict[str, Any] = {"model": "faq", "messages": [{"role": "user", "content": question}]}
        if streamed:
            body["stream"] = True
        started = time.perf_counter()
        async with session.post(f"{url}/v1/chat/completions", json=body, headers=headers) as response:
            await response.read()
            rows.append((what, question, response.headers.get("x-switchyard-cache", "-"),
                         (time.perf_counter() - started) * 1000))
        if gateway.cache is not None:
            await gateway.cache.flush()  # the demo's next question should see this answer stored
    return rows


def _print_cache_act(rows: list[tuple[str, str, str, float]], gateway: Gateway) -> bool:
    if gateway.cache is None:
        return True
    semantic = "on" if gateway.cache.semantic is not None else "opted in, not installed: paraphrases miss"
    print(f"\nCaching act: questions to route 'faq' (claude-sonnet; exact cache, semantic cache {semantic}).\n")
    print(f"{'what':<20}{'question':<42}{'cache':<14}{'ms':>7}")
    for what, question, outcome, ms in rows:
        print(f"{what:<20}{question:<42}{outcome:<14}{ms:>7.1f}")
    stats = gateway.cache.stats()
    saved = stats["usd_saved"].get("faq", 0.0)
    tokens = stats["tokens_saved"].get("faq", 0)
    hits = sum(r["count"] for r in stats["requests"] if r["route"] == "faq" and r["outcome"].endswith("hit"))
    print(f"\n{hits} answers served from the cache: {tokens:,} tokens and ${saved:.6f} not spent on claude-sonnet.")
    seen = {what: cache for what, _, cache, _ in rows}
    return (
        seen["first ask"] == "miss" and seen["same question"] == seen["same, streamed"] == "hit"
        and all("hit" not in seen[what] for what in ("different verb", "different object", "negated"))
        and seen["refresh"] == seen["marked personal"] == "skip"
    )


_MIXED = [
    "Hi there!",
    "What is the capital of Portugal?",
    "Thanks, that helps.",
    "Write a Python function that merges two sorted lists and explain its complexity.",
    "Fix this bug: `for i in range(len(xs)): xs.remove(xs[i])` raises IndexError.",
    "Solve for x: 3x + 7 = 22, and show each step.",
    "A train leaves at 9:40 and arrives at 13:15. How long is the journey in minutes?",
    "Compare the economic causes of the First and Second World Wars.",
    "Write a short poem about a railway switchyard at dawn.",
    "Extract every email address from: contact ana@example.com or ops@example.org for access.",
    "Who wrote Pride and Prejudice?",
    "Good morning! How are you today?",
]


@dataclass
class _Routed:
    prompt: str
    status: int
    deployment: str
    task: str
    cost: float | None
    strong_cost: float | None


async def _routing_act(session: aiohttp.ClientSession, url: str) -> list[_Routed]:
    """The same mixed workload twice: through the ``smart`` classify route, and all to the strongest model."""

    async def ask(model: str, prompt: str) -> tuple[int, str, str, float | None]:
        body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": 200}
        async with session.post(f"{url}/v1/chat/completions", json=body) as response:
            data = await response.json()
            route = dict(
                part.strip().split("=", 1)
                for part in response.headers.get("x-switchyard-route", "").split(";")
                if "=" in part
            )
            cost = (data.get("usage") or {}).get("cost_usd") if response.status == 200 else None
            return response.status, response.headers.get("x-switchyard-deployment", "-"), route.get("task", "-"), cost

    # The classifier's embedding tier loads in the background at start-up; wait for it rather than show defaults.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        async with session.post(
            f"{url}/v1/chat/completions", json={"model": "smart", "messages": [{"role": "user", "content": "ping"}]}
        ) as response:
            await response.read()
            if "tier=loading" not in response.headers.get("x-switchyard-route", ""):
                break
        await asyncio.sleep(0.2)
    rows = []
    for prompt in _MIXED:
        status, deployment, task, cost = await ask("smart", prompt)
        _, _, _, strong = await ask("claude-sonnet", prompt)
        rows.append(_Routed(prompt, status, deployment, task, cost, strong))
    return rows


def _print_routing(rows: list[_Routed]) -> None:
    print("\nRouting act: 12 mixed requests to route 'smart' (strategy classify): coding, maths and analysis go")
    print("to claude-sonnet, writing to gemini-flash, the rest to gpt-4o-mini. The same requests all sent to")
    print("claude-sonnet give the comparison.\n")
    print(f"{'task':<18}{'answered by':<16}{'cost':>11}{'all-strong':>12}   prompt")
    for r in rows:
        print(f"{r.task:<18}{r.deployment:<16}{_dollars(r.cost):>11}{_dollars(r.strong_cost):>12}   {r.prompt[:48]}")
    routed = sum(r.cost or 0.0 for r in rows)
    strong = sum(r.strong_cost or 0.0 for r in rows)
    saved = 1 - routed / strong if strong else 0.0
    print(f"\nrouted ${routed:.6f} vs all to claude-sonnet ${strong:.6f}: {saved:.0%} less for the same requests")
