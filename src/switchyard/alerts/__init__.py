"""Alerts: error rate, latency, budget spend and provider-down rules over the gateway's own hooks, sent to the
log and to webhooks off the request path. ``deploy/prometheus/switchyard-alerts.yml`` has the same rules for
Prometheus, over the metrics documented in ``deploy/README.md``.
"""

from .delivery import redact_url
from .manager import AlertCounters, AlertManager
from .model import Alert, AlertStatus, Severity, fingerprint

__all__ = ["Alert", "AlertCounters", "AlertManager", "AlertStatus", "Severity", "fingerprint", "redact_url"]
