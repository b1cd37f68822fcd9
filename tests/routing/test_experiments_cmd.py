"""``switchyard experiments`` against a real gateway process-like server (uvicorn on its own thread)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.conftest import free_port, live_stack
from tests.routing.helpers import config

from switchyard.cli import main
from switchyard.routing.experiments_cmd import render_table

MASTER = "sk-master-cli"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    routes = {"ab": {"experiment": {"arms": {"control": {"targets": ["mini"]}, "cheap": {"targets": ["nano"]}},
                                    "weights": {"control": 70, "cheap": 30}}}}
    with live_stack(lambda base_url: config(routes, base_url=base_url, governance={"master_key": MASTER})) as stack:
        yield stack.gateway_url


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
