"""Points in time as people type them for reports (``switchyard usage --since``, ``/admin/usage?since=``).

``2026-11-01`` (midnight in the report's time zone), an ISO date-time (``2026-11-01T09:30``, naive means the
report's zone; ``...Z`` or ``+02:00`` as given), a span back from now (``90s``, ``30m``, ``12h``, ``7d``,
``2w``), ``now``, ``today``, ``yesterday``, or Unix seconds. Ranges are half-open — ``since`` included,
``until`` excluded — so ``--since 2026-11-01 --until 2026-11-02`` is exactly one day.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..errors import InvalidRequestError

__all__ = ["parse_time"]

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_time(text: str, *, tz: str = "UTC", now: float | None = None) -> float:
    """Unix time for ``text``; :class:`InvalidRequestError` (a 400 in the admin API) when it cannot be read."""
    value = text.strip().lower()
    current = time.time() if now is None else now
    try:
        zone = ZoneInfo(tz)
    except (KeyError, ValueError) as exc:
        raise InvalidRequestError(f"unknown time zone '{tz}'", param="tz") from exc
    if value == "now":
        return current
    if value in ("today", "yesterday"):
        midnight = datetime.fromtimestamp(current, zone).replace(hour=0, minute=0, second=0, microsecond=0)
        if value == "yesterday":
            # Calendar arithmetic on the date, then re-localised: right across 23- and 25-hour DST days.
            midnight = datetime.combine((midnight - timedelta(days=1)).date(), midnight.time(), tzinfo=zone)
        return midnight.timestamp()
    span = _SPAN.match(value)
    if span:
        return current - float(span.group(1)) * _UNIT_S[span.group(2)]
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidRequestError(
            f"cannot read '{text}' as a time: use YYYY-MM-DD, an ISO date-time, a span like 7d or 12h, or 'today'"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.timestamp()
