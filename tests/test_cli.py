"""The ``switchyard`` command: check, serve (as a real process) and demo."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from switchyard.cli import main
from tests.conftest import free_port

CONFIG = """
providers:
  openai: {type: openai, api_key: "${TEST_KEY:-sk-none}", base_url: "http://127.0.0.1:9/v1"}
models:
  gpt: {provider: openai, model: gpt-4o-mini}
routes:
  fast: {targets: [gpt]}
"""


def test_check_accepts_a_valid_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(CONFIG)
    assert main(["check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "OK — 1 provider(s), 1 model(s), 1 route(s)" in out
    assert "model  gpt" in out
    assert "openai → gpt-4o-mini" in out


def test_check_names_the_offending_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CONFIG.replace("targets: [gpt]", "targets: [gpt, ghost]"))
    assert main(["check", "--config", str(path)]) == 2
    assert "routes.fast.targets[1]: unknown model 'ghost'" in capsys.readouterr().err


def test_check_reports_unknown_provider_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CONFIG.replace("type: openai", "type: opanai"))
    assert main(["check", "--config", str(path)]) == 2
    assert "providers.openai.type: unknown provider type 'opanai'" in capsys.readouterr().err


def test_serve_starts_answers_health_and_stops(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(CONFIG + f"ledger: {{url: 'sqlite:///{tmp_path / 'usage.db'}'}}\n")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "switchyard.cli", "serve", "--config", str(path), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "TEST_KEY": "sk-secret-in-env"},
    )
    try:
        deadline = time.monotonic() + 30  # generous: CI machines can be busy
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                    status = response.status
            except OSError:
                time.sleep(0.05)
        assert status == 200
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    # uvicorn shuts down gracefully, then re-raises the signal so supervisors see how the process ended.
    assert process.returncode in (0, -15)
    assert b"Traceback" not in err
    assert b"serving 1 model(s) and 1 route(s)" in err
    assert b"sk-secret-in-env" not in err


def test_demo_runs_end_to_end() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "switchyard.cli", "demo"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "answered by 6 providers" in result.stdout
    assert "answers served from the cache" in result.stdout
    for provider in ("openai/", "anthropic/", "gemini/", "azure/", "groq/", "ollama/"):
        assert provider in result.stdout
    assert "Traceback" not in result.stderr
