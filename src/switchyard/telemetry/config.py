"""The ``telemetry:`` section: metrics, request logs, body logging with redaction, and tracing.

It lives here rather than in :mod:`switchyard.config` (which imports it) to keep that module small; it imports
nothing of ours, so the import cannot go round in a circle.
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

__all__ = ["PiiKind", "TelemetryConfig", "TracingConfig"]

PiiKind = Literal["email", "phone", "card", "iban", "ip"]
"""The same kinds as :data:`switchyard.redaction.Entity` (this module imports nothing of ours)."""


class TracingConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """OpenTelemetry traces: one span per request, a child span per upstream attempt (GenAI conventions).
    Off by default; needs the ``tracing`` extra (``pip install 'switchyard[tracing]'``)."""

    enabled: bool = False
    otlp_endpoint: str | None = None
    """OTLP over HTTP, the full traces URL (``http://collector:4318/v1/traces``). ``None``: OpenTelemetry's own
    environment variables (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``...), else ``http://localhost:4318/v1/traces``."""
    service_name: str = "switchyard"
    sample_ratio: float = 1.0
    """Share of requests traced (parent-based: a sampled parent keeps its children)."""
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    """Sent with every export (a collector's auth token: write it as ``${VAR}``). Never logged."""

    def __post_init__(self) -> None:
        if not 0 <= self.sample_ratio <= 1:
            raise ValueError("tracing.sample_ratio must be between 0 and 1")

    def __repr__(self) -> str:
        # Header values are credentials: a logged configuration shows only their names.
        return (
            f"TracingConfig(enabled={self.enabled!r}, otlp_endpoint={self.otlp_endpoint!r}, "
            f"service_name={self.service_name!r}, sample_ratio={self.sample_ratio!r}, headers={sorted(self.headers)!r})"
        )


class TelemetryConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    metrics: bool = True
    """Count every request for ``GET /metrics`` (Prometheus) and the dashboard. Costs a few µs per request."""
    metrics_require_key: bool = False
    """``GET /metrics`` needs the master key as a bearer token (Prometheus' ``authorization`` scrape setting)."""
    request_log: bool = True
    """``switchyard serve`` writes one line per request to the ``switchyard.requests`` logger (INFO)."""
    log_format: Literal["json", "text"] = "json"
    """How ``switchyard serve`` writes every log record: one JSON object per line, or plain text."""
    log_bodies: bool = False
    """Add the prompt and the answer to request lines, with secrets and the ``redact_pii`` kinds masked."""
    redact_pii: list[PiiKind] = msgspec.field(default_factory=list)
    """Personal data masked in logged bodies, besides secrets (which always are)."""
    redact_patterns: list[str] = msgspec.field(default_factory=list)
    """More regular expressions whose matches are masked in logged bodies (account numbers, internal ids)."""
    max_feature_labels: int = 100
    """Distinct ``feature`` label values on metrics; later ones are counted as ``(other)``: features come from
    client headers, and a label must not take unbounded values."""
    tracing: TracingConfig = msgspec.field(default_factory=TracingConfig)

    def __post_init__(self) -> None:
        for i, pattern in enumerate(self.redact_patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"redact_patterns[{i}] is not a regular expression: {exc}") from None
        if self.max_feature_labels < 1:
            raise ValueError("max_feature_labels must be at least 1")
