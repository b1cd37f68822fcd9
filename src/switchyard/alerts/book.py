"""The alerts that are firing, and when each is due to be sent again.

Rules report on every request, so most reports say nothing new: a firing alert that is still firing is only
sent again after ``repeat_s``, or at once when its severity changes. The book decides that with a dict lookup
and two comparisons; building an :class:`Alert` (and its summary text) happens only when one is to be sent.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from .model import Alert, Severity, fingerprint

__all__ = ["AlertBook", "Entry"]


@dataclass(slots=True)
class Entry:
    """A firing alert. ``value``/``severity`` follow the latest report; the rest is fixed when it starts."""

    name: str
    labels: Mapping[str, str]
    fingerprint: str
    started_at: float
    severity: Severity
    summary: str
    value: float
    threshold: float
    notified_at: float
    repeat: bool
    """Whether a still-firing alert is sent again every ``repeat_s`` (not for states such as a budget's spend,
    which say nothing new until they change)."""

    def snapshot(self) -> Alert:
        return Alert(
            name=self.name, status="firing", severity=self.severity, summary=self.summary, labels=self.labels,
            fingerprint=self.fingerprint, started_at=self.started_at, value=self.value, threshold=self.threshold,
        )


class AlertBook:
    def __init__(self, *, repeat_s: float) -> None:
        self._repeat_s = repeat_s
        self._firing: dict[Hashable, Entry] = {}

    def get(self, key: Hashable) -> Entry | None:
        return self._firing.get(key)

    def due(self, entry: Entry, severity: Severity, now: float) -> bool:
        """Whether a report that ``entry`` still fires, now at ``severity``, should be sent."""
        return severity != entry.severity or (entry.repeat and now - entry.notified_at >= self._repeat_s)

    def open(
        self,
        key: Hashable,
        *,
        name: str,
        labels: Mapping[str, str],
        severity: Severity,
        summary: str,
        value: float,
        threshold: float,
        now: float,
        repeat: bool = True,
    ) -> Alert:
        entry = Entry(
            name=name, labels=labels, fingerprint=fingerprint(name, labels), started_at=now, severity=severity,
            summary=summary, value=value, threshold=threshold, notified_at=now, repeat=repeat,
        )
        self._firing[key] = entry
        return entry.snapshot()

    @staticmethod
    def renew(entry: Entry, *, severity: Severity, summary: str, value: float, now: float) -> Alert:
        """Send ``entry`` again (repeat or changed severity); its ``started_at`` and fingerprint stay."""
        entry.severity, entry.summary, entry.value, entry.notified_at = severity, summary, value, now
        return entry.snapshot()

    def close(self, key: Hashable, now: float) -> Alert | None:
        """Resolve the alert under ``key``; ``None`` when it was not firing (nothing to send)."""
        entry = self._firing.pop(key, None)
        if entry is None:
            return None
        return Alert(
            name=entry.name, status="resolved", severity=entry.severity, summary=entry.summary,
            labels=entry.labels, fingerprint=entry.fingerprint, started_at=entry.started_at, value=entry.value,
            threshold=entry.threshold, ends_at=now,
        )

    def overdue(self, now: float) -> list[Entry]:
        """Firing alerts whose repeat is due (for the periodic tick: no report may come for a while)."""
        return [e for e in self._firing.values() if e.repeat and now - e.notified_at >= self._repeat_s]

    def active(self) -> list[Alert]:
        return sorted((e.snapshot() for e in self._firing.values()), key=lambda a: (a.started_at, a.fingerprint))
