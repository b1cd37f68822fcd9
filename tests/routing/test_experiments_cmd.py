"""``switchyard experiments`` against a real gateway process-like server (uvicorn on its own thread)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from tests.conftest import free_port
from tests.routing.helpers import config

from switchyard import Gateway, GatewayApp, parse_config
from switchyard.cli import main
from switchyard.routing.experiments_cmd import render_table
from switchyard.simulator import Simulator

MASTER = "sk-master-cli"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[Simulator, uvicorn.Server, asyncio.Future[None], str]:
        sim = Simulator()
        await sim.start()
        routes = {"ab": {"experiment": {"arms": {"control": {"targets": ["mini"]}, "cheap": {"targets": ["nano"]}},
                                        "weights": {"control": 70, "cheap": 30}}}}
        cfg = config(routes, base_url=sim.base_url, governance={"master_key": MASTER})
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(GatewayApp(Gateway(parse_config(cfg, env={}))), host="127.0.0.1",
                                               port=port, log_level="warning", lifespan="on"))
        serving = asyncio.ensure_future(server.serve())
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.005)
        return sim, server, serving, f"http://127.0.0.1:{port}"

    sim, server, serving, url = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    try:
        yield url
    finally:

        async def stop() -> None:
            server.should_exit = True
            await serving
            await sim.stop()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_the_report_shows_each_arm(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    auth = {"authorization": f"Bearer {MASTER}"}
    with httpx.Client(base_url=server, headers=auth) as client:
        for u in range(10):
            answer = client.post("/v1/chat/completions", json={
                "model": "ab", "user": f"user-{u}", "messages": [{"role": "user", "content": "hello"}]})
            assert answer.status_code == 200
            assert client.post("/v1/feedback", json={"id": answer.json()["id"], "score": 4}).status_code == 200
    assert main(["experiments", "--url", server, "--key", MASTER]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["route", "arm", "weight", "requests", "errors", "p50", "ms", "p95", "ms", "mean",
                                "$", "feedback", "(n)"]
    rows = {line.split()[1]: line.split() for line in table[1:]}
    assert set(rows) == {"control", "cheap"}
    assert rows["control"][2] == "70"
    assert int(rows["control"][3]) + int(rows["cheap"][3]) == 10
    assert main(["experiments", "--url", server, "--key", MASTER, "--format", "json"]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    arms = report["experiments"]["ab"]["arms"]
    assert arms["control"]["feedback_count"] + arms["cheap"]["feedback_count"] == 10
    assert {a["feedback_mean"] for a in arms.values() if a["feedback_count"]} == {4.0}


def test_errors_say_what_went_wrong(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiments", "--url", server, "--key", "wrong"]) == 1
    assert "answered 401: the admin API requires the master key" in capsys.readouterr().err
    assert main(["experiments", "--url", f"http://127.0.0.1:{free_port()}", "--key", MASTER]) == 1
    assert "cannot reach the gateway" in capsys.readouterr().err


def test_no_experiments_is_said_plainly() -> None:
    assert render_table({"experiments": {}}) == "no experiments configured (routes.<name>.experiment)"
