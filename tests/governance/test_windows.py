from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from switchyard.governance.records import BudgetSpec
from switchyard.governance.windows import window_of

UTC, BERLIN = ZoneInfo("UTC"), ZoneInfo("Europe/Berlin")


def ts(text: str, zone: ZoneInfo) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def test_daily_window_follows_the_configured_zone() -> None:
    spec = BudgetSpec(limit_usd=1, window="daily")
    # 23:30 UTC is already the next day in Berlin.
    now = ts("2026-11-23T23:30:00", UTC)
    assert window_of(spec, now, UTC).id == "d20261123"
    berlin = window_of(spec, now, BERLIN)
    assert berlin.id == "d20261124"
    assert berlin.resets_at == ts("2026-11-25T00:00:00", BERLIN)


def test_daily_window_on_a_dst_change_is_23_hours() -> None:
    window = window_of(BudgetSpec(limit_usd=1, window="daily"), ts("2026-03-29T01:00:00", BERLIN), BERLIN)
    assert window.resets_at == ts("2026-03-30T00:00:00", BERLIN)
    assert window.resets_at - ts("2026-03-29T00:00:00", BERLIN) == 23 * 3600


def test_monthly_window_rolls_over_the_year() -> None:
    window = window_of(BudgetSpec(limit_usd=1, window="monthly"), ts("2026-12-31T12:00:00", UTC), UTC)
    assert window.id == "m202612"
    assert window.resets_at == ts("2027-01-01T00:00:00", UTC)


def test_rolling_and_total_windows_never_reset_by_calendar() -> None:
    rolling = window_of(BudgetSpec(limit_usd=1, window="rolling", rolling_s=3600), 0.0, UTC)
    assert (rolling.id, rolling.resets_at, rolling.rolling_s) == ("rolling", None, 3600)
    total = window_of(BudgetSpec(limit_usd=1, window="total"), 0.0, UTC)
    assert (total.id, total.resets_at) == ("total", None)
