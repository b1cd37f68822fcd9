"""Times as typed for reports: dates, ISO date-times, spans back from now, named days, Unix seconds."""

from __future__ import annotations

from datetime import datetime

import pytest

from switchyard.errors import InvalidRequestError
from switchyard.governance.timespec import parse_time

NOW = datetime.fromisoformat("2026-03-09T15:45:00+00:00").timestamp()  # 11:45 in New York, the day after DST began


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("2026-11-01", "UTC", at("2026-11-01T00:00:00+00:00")),
        ("2026-11-01", "Europe/Paris", at("2026-11-01T00:00:00+01:00")),
        ("2026-07-01T09:30", "Europe/Paris", at("2026-07-01T09:30:00+02:00")),
        ("2026-07-01T09:30:00Z", "Europe/Paris", at("2026-07-01T09:30:00+00:00")),
        ("2026-07-01T09:30:00-04:00", "UTC", at("2026-07-01T13:30:00+00:00")),
        ("1780000000", "UTC", 1_780_000_000.0),
        ("now", "UTC", NOW),
        ("90s", "UTC", NOW - 90),
        ("30m", "UTC", NOW - 1800),
        ("12h", "UTC", NOW - 43_200),
        ("7d", "UTC", NOW - 7 * 86_400),
        ("2w", "UTC", NOW - 14 * 86_400),
        ("1.5d", "UTC", NOW - 1.5 * 86_400),
        ("today", "America/New_York", at("2026-03-09T00:00:00-04:00")),
        # Yesterday was 23 hours long in New York (clocks went forward): still its local midnight.
        ("yesterday", "America/New_York", at("2026-03-08T00:00:00-05:00")),
        (" Today ", "UTC", at("2026-03-09T00:00:00+00:00")),
    ],
)
def test_parse_time(text: str, tz: str, expected: float) -> None:
    assert parse_time(text, tz=tz, now=NOW) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["last tuesday", "7 days", "2026-13-01", ""])
def test_unreadable_times_are_request_errors(text: str) -> None:
    with pytest.raises(InvalidRequestError, match="cannot read"):
        parse_time(text, now=NOW)


def test_unknown_time_zone_is_a_request_error() -> None:
    with pytest.raises(InvalidRequestError, match="unknown time zone"):
        parse_time("today", tz="Mars/Olympus_Mons")
