"""``deploy/prometheus/switchyard-alerts.yml``: well-formed, the same rules as in-process, only the metrics that
``deploy/README.md`` promises; and, where ``promtool`` is available, checked and unit-tested by it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from switchyard.alerts.manager import BUDGET, ERROR_RATE, LATENCY, PROVIDER_DOWN

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "switchyard-alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "switchyard-alerts.test.yml"

CONTRACT = {
    "switchyard_requests_total": {"route", "provider", "deployment", "status_class", "error_class"},
    "switchyard_request_duration_seconds": {"route", "provider", "deployment"},
    "switchyard_cost_usd_total": {"provider", "deployment", "feature"},
    "switchyard_budget_spent_usd": {"budget"},
    "switchyard_budget_limit_usd": {"budget"},
    "switchyard_breaker_state": {"deployment"},
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    assert set(document) == {"groups"}
    found: list[dict[str, Any]] = []
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules"}
        assert group["name"]
        found.extend(group["rules"])
    return found


def metric_of(name: str) -> str:
    for suffix in HISTOGRAM_SUFFIXES:
        if name.removesuffix(suffix) in CONTRACT:
            return name.removesuffix(suffix)
    return name


def test_every_rule_is_a_complete_alert() -> None:
    for rule in rules():
        assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}, rule
        assert isinstance(rule["expr"], str)
        assert rule["expr"].strip()
        assert DURATION.match(str(rule.get("for", "0s"))), rule.get("for")
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]


def test_the_rules_are_the_in_process_rules() -> None:
    assert {rule["alert"] for rule in rules()} == {ERROR_RATE, LATENCY, BUDGET, PROVIDER_DOWN}


def test_expressions_use_only_contract_metrics_and_labels() -> None:
    used: set[str] = set()
    for rule in rules():
        expr = rule["expr"]
        for name in re.findall(r"\bswitchyard_[a-z_]+", expr):
            metric = metric_of(name)
            assert metric in CONTRACT, name
            used.add(metric)
        labels = {label for group in re.findall(r"\bby \(([^)]*)\)", expr) for label in group.split(",")}
        labels |= set(re.findall(r"([a-z_]+)\s*(?:!=|=~|!~|=)\s*\"", expr))
        known = set().union(*CONTRACT.values()) | {"le"}
        assert {label.strip() for label in labels} <= known, expr
    assert used == set(CONTRACT) - {"switchyard_cost_usd_total"}


def test_the_readme_documents_the_contract() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| `(switchyard_[a-z_]+)` \| [^|]+ \| ([^|]+) \|$", readme, re.MULTILINE))
    assert set(table) == set(CONTRACT)
    for metric, labels in table.items():
        assert set(re.findall(r"`([a-z_]+)`", labels)) == CONTRACT[metric], metric


def promtool() -> str:
    found = os.environ.get("SWITCHYARD_PROMTOOL") or shutil.which("promtool")
    if not found:
        pytest.skip("promtool not found (Debian package 'prometheus'; or set SWITCHYARD_PROMTOOL)")
    return found


@pytest.mark.parametrize("command", ["check", "test"])
def test_promtool_accepts_the_rules_and_their_unit_tests(command: str) -> None:
    target = RULES if command == "check" else RULE_TESTS
    result = subprocess.run(
        [promtool(), command, "rules", target.name], cwd=target.parent, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
