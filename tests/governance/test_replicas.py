"""Four gateway processes sharing real Redis and PostgreSQL: budget overshoot, RPM limit, one ledger row per
request (the scenario and its acceptance checks live in bench/replicas.py, which prints the figures)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


def _bench(name: str) -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(120)
async def test_four_replicas_hold_one_budget_one_limit_and_one_ledger() -> None:
    figures = await _bench("replicas").scenario(replicas=4, budget_requests=240, rpm_requests=250)
    assert figures["overshoot_usd"] <= figures["one_request_max_usd"], figures
    assert figures["budget_statuses"].get(402, 0) > 0, "the budget must actually be reached"
    assert 99 <= figures["rpm_admitted"] <= 101, figures
    assert figures["rpm_statuses"][429] == 250 - figures["rpm_admitted"]
    assert figures["ledger_rows"] == figures["requests_sent"] == 491
    assert figures["ledger_duplicates"] == 0
    assert figures["ledger_missing"] == 0
