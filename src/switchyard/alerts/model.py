"""What an alert is, and how one is written down for people (Slack ``text``) and for machines (JSON fields).

An alert is identified by its rule name and labels; the fingerprint is a hash of both, so the same condition
has the same fingerprint in every process and across restarts (receivers can deduplicate on it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Alert", "AlertStatus", "Severity", "fingerprint"]

Severity = Literal["warning", "critical"]
AlertStatus = Literal["firing", "resolved"]


def fingerprint(name: str, labels: Mapping[str, str]) -> str:
    """A stable id for one alert condition: 16 hex digits of SHA-256 over the name and the sorted labels."""
    digest = hashlib.sha256(name.encode())
    for key in sorted(labels):
        digest.update(b"\x00" + key.encode() + b"\x00" + labels[key].encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Alert:
    """One notification's worth of an alert: what fired (or resolved), how badly, and since when."""

    name: str
    """The rule: ``SwitchyardErrorRateHigh``, ``SwitchyardLatencyHigh``, ``SwitchyardBudgetSpend``,
    ``SwitchyardProviderDown`` (the same names as the Prometheus rules in ``deploy/prometheus``)."""
    status: AlertStatus
    severity: Severity
    summary: str
    labels: Mapping[str, str]
    fingerprint: str
    started_at: float
    """Unix time the condition began (unchanged by repeats and severity changes)."""
    value: float
    """The measurement that decided: an error share, a latency in seconds, a spent share of a budget."""
    threshold: float
    ends_at: float | None = None
    """Unix time the condition cleared; set on resolved alerts only."""

    def text(self) -> str:
        """One line for chat tools: ``[FIRING:critical] SwitchyardProviderDown deployment=gpt: ...``."""
        subject = " ".join([self.name, *(f"{k}={v}" for k, v in sorted(self.labels.items()))])
        return f"[{self.status.upper()}:{self.severity}] {subject}: {self.summary}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "severity": self.severity,
            "summary": self.summary,
            "labels": dict(self.labels),
            "fingerprint": self.fingerprint,
            "started_at": self.started_at,
            "ends_at": self.ends_at,
            "value": self.value,
            "threshold": self.threshold,
        }
