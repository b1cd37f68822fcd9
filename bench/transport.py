"""Upstream transports compared: process CPU per request and requests per second, client side only.

The same small POSTs (a ~200-byte JSON body, the headers an adapter sends) go to a local uvicorn server (httptools,
uvloop) in another process that answers a fixed ~600-byte JSON, through ``AiohttpTransport`` and through
``Http1Transport``: N one after another, then N from 32 concurrent workers. The figure that matters is µs of this
process's CPU (``time.process_time``, user + system) per request: the server's CPU is not in it, so it is the cost a
transport adds to every proxied request (on loopback the kernel time includes the receiving side's TCP work, which
``send()`` pays for). Requests per second are bounded by the server and shown for reference.

    .venv/bin/python bench/transport.py [-n 20000] [--loops uvloop,asyncio]

Standalone: it imports nothing from the other bench modules.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop

from switchyard.config import Timeouts
from switchyard.providers.http1 import Http1Transport
from switchyard.providers.transport import AiohttpTransport, Transport, UpstreamRequest

ANSWER = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "The quick brown fox jumps over the lazy dog. " * 7},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 60, "total_tokens": 72},
    }
).encode()
BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say something " * 10}]}).encode()
HEADERS = {"authorization": "Bearer sk-bench-0123456789", "content-type": "application/json"}
CONCURRENCY = 32


async def app(
    scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": ANSWER})


def serve(port: int) -> None:
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_level="warning",
                access_log=False, lifespan="off")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the server did not start")


async def one(transport: Transport, request: UpstreamRequest) -> None:
    response = await transport.send(request)
    try:
        body = await response.read()
    finally:
        response.close()
    if response.status != 200 or len(body) != len(ANSWER):
        raise SystemExit(f"unexpected answer: {response.status}, {len(body)} bytes")


async def measure(
    make: Callable[[], Transport], url: str, n: int, concurrency: int
) -> tuple[float, float, float, float]:
    """µs of process CPU per request (all, user, system) and requests per second."""
    request = UpstreamRequest("POST", url, HEADERS, BODY, Timeouts())
    transport = make()
    try:

        async def worker(count: int) -> None:
            for _ in range(count):
                await one(transport, request)

        await asyncio.gather(*(worker(200) for _ in range(concurrency)))  # warm: connections, caches
        cpu, times, wall = time.process_time(), os.times(), time.perf_counter()
        share, extra = divmod(n, concurrency)
        await asyncio.gather(*(worker(share + (i < extra)) for i in range(concurrency)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        user, system = os.times().user - times.user, os.times().system - times.system
    finally:
        await transport.aclose()
    return cpu / n * 1e6, user / n * 1e6, system / n * 1e6, n / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=20000, help="requests per measurement")
    parser.add_argument("--loops", default="uvloop,asyncio", help="client event loops to measure")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        wait_for(port)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        transports: dict[str, Callable[[], Transport]] = {"aiohttp": AiohttpTransport, "http1": Http1Transport}
        factories = {"uvloop": uvloop.new_event_loop, "asyncio": asyncio.new_event_loop}
        print(f"{len(ANSWER)}-byte answers, {len(BODY)}-byte request bodies, n={args.n}; client CPU only")
        print(f"{'loop':8} {'transport':10} {'mode':11} {'µs CPU/req':>10} {'(user':>6} {'sys)':>5} {'req/s':>8}")
        for loop_name in args.loops.split(","):
            for name, make in transports.items():
                for mode, concurrency in (("sequential", 1), (f"c={CONCURRENCY}", CONCURRENCY)):
                    with asyncio.Runner(loop_factory=factories[loop_name]) as runner:
                        cpu, user, system, rate = runner.run(measure(make, url, args.n, concurrency))
                    print(f"{loop_name:8} {name:10} {mode:11} {cpu:10.1f} {user:6.1f} {system:5.1f} {rate:8.0f}",
                          flush=True)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
