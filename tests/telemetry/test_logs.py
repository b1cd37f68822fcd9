"""Structured logs: the JSON formatter, one line per request with its fields, bodies only when asked for and then
redacted, and the logging set-up of ``switchyard serve``."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from switchyard import ChatRequest, Gateway, Message, parse_config
from switchyard.simulator import Simulator
from switchyard.telemetry import logs
from switchyard.telemetry.logs import (
    REDACTED,
    REQUEST_LOGGER,
    JsonFormatter,
    LineHandler,
    Redactor,
    configure_logging,
)
from tests.conftest import running, sim_config

from .conftest import CHAT, ask, server_app


def request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    formatter = JsonFormatter()
    lines: list[dict[str, Any]] = [
        orjson.loads(formatter.format(r)) for r in caplog.records if r.name == REQUEST_LOGGER
    ]
    return lines


@pytest.fixture
def request_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.INFO, logger=REQUEST_LOGGER):
        yield caplog


async def test_one_json_line_per_request_with_its_fields(
    sim: Simulator, tmp_path: Path, request_log: pytest.LogCaptureFixture
) -> None:
    sim.set_faults("openai:gpt-flaky", {"error_rate": 1.0, "error_status": 503})
    async with running(server_app(sim, tmp_path)) as client:
        ok = await client.post(
            CHAT, json=ask("chain"), headers={"x-request-id": "req-1", "x-switchyard-features": "search",
                                              "x-switchyard-user": "u-7"},
        )
        missing = await client.post(CHAT, json=ask("nope"), headers={"x-request-id": "req-2"})
    assert (ok.status_code, missing.status_code) == (200, 404)
    lines = {line["request_id"]: line for line in request_lines(request_log)}
    line = lines["req-1"]
    assert line["level"] == "info"
    assert line["logger"] == REQUEST_LOGGER
    assert line["msg"] == "request"
    assert (line["route"], line["provider"], line["deployment"], line["model"]) == (
        "chain", "anthropic", "claude", "claude-sonnet-4-6"
    )
    assert line["status"] == 200
    assert line["attempts"] == 3
    assert line["tried"] == ["dead", "flaky", "claude"]
    assert line["cost_usd"] == pytest.approx(ok.json()["usage"]["cost_usd"])
    assert line["input_tokens"] == ok.json()["usage"]["prompt_tokens"]
    assert line["latency_ms"] >= line["upstream_ms"] > 0
    assert (line["user"], line["features"]) == ("u-7", ["search"])
    assert "request_body" not in line
    assert "response_body" not in line
    assert "hello there" not in orjson.dumps(line).decode()
    assert lines["req-2"]["status"] == 404
    assert lines["req-2"]["error"] == "ModelNotFoundError"
    assert len(lines) == 2


async def test_bodies_are_logged_only_when_enabled_and_then_redacted(
    sim: Simulator, request_log: pytest.LogCaptureFixture
) -> None:
    telemetry = {"log_bodies": True, "redact_pii": ["email", "phone"], "redact_patterns": [r"ACCT-\d+"]}
    prompt = "mail jo@example.com or call +1 (555) 123-4567 about ACCT-99812, my key is sk-live-abcdefghijkl"
    async with Gateway(parse_config(sim_config(sim.base_url, telemetry=telemetry))) as gateway:
        response = await gateway.chat(ChatRequest(model="gpt", messages=[Message.user(prompt)]))
    (line,) = request_lines(request_log)
    (body,) = line["request_body"]
    assert body["role"] == "user"
    assert body["content"] == f"mail {REDACTED} or call {REDACTED} about {REDACTED}, my key is {REDACTED}"
    # The simulator echoes the prompt: the answer is redacted the same way.
    assert "jo@example.com" in response.text
    assert "jo@example.com" not in line["response_body"]
    assert REDACTED in line["response_body"]


async def test_no_line_is_built_when_the_logger_is_off(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=REQUEST_LOGGER):
        async with Gateway(parse_config(sim_config(sim.base_url))) as gateway:
            await gateway.chat(ChatRequest(model="gpt", messages=[Message.user("hi")]))
    assert request_lines(caplog) == []


def test_formatter_masks_secrets_in_messages_and_tracebacks() -> None:
    formatter = JsonFormatter(Redactor(["provider-secret-123"]))
    try:
        raise ValueError("upstream said provider-secret-123 was wrong; Bearer abcdefghijklmnop")
    except ValueError:
        record = logging.getLogger("switchyard.test").makeRecord(
            "switchyard.test", logging.ERROR, __file__, 1, "failed with %s", ("provider-secret-123",), None
        )
        record.exc_info = sys.exc_info()
    out = orjson.loads(formatter.format(record))
    assert out["msg"] == f"failed with {REDACTED}"
    assert out["level"] == "error"
    assert out["ts"].endswith("Z")
    assert "provider-secret-123" not in out["exc"]
    assert "abcdefghijklmnop" not in out["exc"]


def test_serve_logging_writes_json_with_the_config_secrets_masked(capsys: pytest.CaptureFixture[str]) -> None:
    config = parse_config(sim_config("http://127.0.0.1:1", governance={"master_key": "sk-master-masked-0001"}))
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger(REQUEST_LOGGER).level)
    try:
        configure_logging(config, level=logging.INFO)
        logging.getLogger("switchyard.test").warning("master key is %s", "sk-master-masked-0001")
        logging.getLogger(REQUEST_LOGGER).info("request", extra={"switchyard": {"request_id": "r1", "status": 200}})
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        logging.getLogger(REQUEST_LOGGER).setLevel(saved[2])
    lines = [orjson.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["msg"] == f"master key is {REDACTED}"
    assert lines[1] == {**lines[1], "logger": REQUEST_LOGGER, "request_id": "r1", "status": 200}


async def test_request_lines_are_written_together_and_warnings_at_once(tmp_path: Path) -> None:
    with (tmp_path / "log").open("w", encoding="utf-8") as stream:
        handler = LineHandler(stream, interval_s=0.05)
        handler.setFormatter(JsonFormatter())
        log = logging.getLogger("switchyard.test.lines")
        log.propagate = False
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        try:
            log.info("first")
            log.info("second")
            assert (tmp_path / "log").read_text() == ""  # buffered, not one write per line
            log.warning("a warning goes out at once, after what was buffered")
            written = (tmp_path / "log").read_text().splitlines()
            log.info("third")
            await asyncio.sleep(0.15)
            later = (tmp_path / "log").read_text().splitlines()
        finally:
            log.removeHandler(handler)
    assert [orjson.loads(line)["msg"] for line in written] == [
        "first", "second", "a warning goes out at once, after what was buffered"
    ]
    assert orjson.loads(later[-1])["msg"] == "third"


def test_without_an_event_loop_every_line_is_flushed(tmp_path: Path) -> None:
    with (tmp_path / "log").open("w", encoding="utf-8") as stream:
        handler = LineHandler(stream)
        handler.setFormatter(JsonFormatter())
        handler.handle(logging.makeLogRecord({"msg": "alone", "levelno": logging.INFO, "levelname": "INFO"}))
        assert orjson.loads((tmp_path / "log").read_text())["msg"] == "alone"


async def test_serve_logging_writes_request_lines_without_a_log_record_and_the_same_line_with_one(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    config = parse_config(sim_config(sim.base_url))
    root, requests = logging.getLogger(), logging.getLogger(REQUEST_LOGGER)
    saved = (list(root.handlers), root.level, requests.level)
    extra = logging.Handler(logging.INFO)
    seen: list[logging.LogRecord] = []
    extra.emit = seen.append  # type: ignore[method-assign]
    try:
        configure_logging(config, level=logging.WARNING)
        sink = logs.request_sink
        assert sink is not None
        assert sink.takes_requests_directly(requests)
        async with Gateway(config) as gateway:
            await gateway.chat(ChatRequest(model="gpt", messages=[Message.user("hi")]), request_id="direct")
            # Another handler on the root logger must see requests too: the direct path steps aside.
            root.addHandler(extra)
            assert not sink.takes_requests_directly(requests)
            await gateway.chat(ChatRequest(model="gpt", messages=[Message.user("hi")]), request_id="record")
        sink.flush()
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        requests.setLevel(saved[2])
    lines = {line["request_id"]: line for line in map(orjson.loads, capsys.readouterr().err.splitlines())}
    direct, recorded = lines["direct"], lines["record"]
    assert [r.switchyard["request_id"] for r in seen] == ["record"]  # type: ignore[attr-defined]
    assert {k: v for k, v in direct.items() if k not in ("ts", "request_id", "latency_ms", "upstream_ms")} == {
        k: v for k, v in recorded.items() if k not in ("ts", "request_id", "latency_ms", "upstream_ms")
    }
    assert (direct["logger"], direct["level"], direct["model"]) == (REQUEST_LOGGER, "info", "gpt-4o-mini")


async def test_request_lines_go_out_once_enough_bytes_wait(tmp_path: Path) -> None:
    with (tmp_path / "log").open("w", encoding="utf-8") as stream:
        handler = LineHandler(stream, interval_s=60, max_pending=200)
        handler.setFormatter(JsonFormatter())
        for i in range(3):
            handler.write_request({"request_id": f"r{i}", "status": 200})
        written = [orjson.loads(line)["request_id"] for line in (tmp_path / "log").read_text().splitlines()]
        handler.flush()
        everything = [orjson.loads(line)["request_id"] for line in (tmp_path / "log").read_text().splitlines()]
    assert 0 < len(written) < 3  # the size limit sent what waited, without the minute-long interval
    assert everything == ["r0", "r1", "r2"]
