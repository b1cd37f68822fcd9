"""Budget windows: which counter a spend goes to, and when that counter resets.

Calendar windows (daily, monthly) start at midnight in the configured time zone, so "$50 a day" means the
team's day, not UTC's. The window's identity is part of the counter key, so a new day needs no reset job:
the old key simply stops being used and expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .records import BudgetSpec

__all__ = ["Window", "window_of"]


@dataclass(frozen=True, slots=True)
class Window:
    id: str
    """Part of the counter key: ``d20261123``, ``m202611``, ``rolling``, ``total``."""
    resets_at: float | None
    """Unix time the calendar window ends (``None`` for rolling and total windows)."""
    rolling_s: float | None = None


def window_of(spec: BudgetSpec, now: float, zone: ZoneInfo) -> Window:
    if spec.window == "rolling":
        return Window("rolling", None, spec.rolling_s)
    if spec.window == "total":
        return Window("total", None)
    local = datetime.fromtimestamp(now, zone)
    if spec.window == "daily":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        # Adding a day to the wall-clock date and re-localising keeps 23- and 25-hour DST days right.
        end = datetime.combine((start + timedelta(days=1)).date(), start.time(), tzinfo=zone)
        return Window(f"d{start:%Y%m%d}", end.timestamp())
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    end = start.replace(year=year, month=month)
    return Window(f"m{start:%Y%m}", end.timestamp())
