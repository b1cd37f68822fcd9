"""Usage reports, against SQLite and PostgreSQL, checked against a plain-Python aggregation of the same rows."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from switchyard.errors import InvalidRequestError
from switchyard.governance.ledger import GROUP_BY, Database, UsageRow
from switchyard.governance.ledger.report import P95, local_day
from switchyard.governance.records import UsageRecord

from .conftest import usage


def dataset() -> list[UsageRecord]:
    records = []
    for n in range(240):
        records.append(
            usage(
                n,
                ts=1_780_000_000.0 + n * 1800,  # every half hour: five days
                key_id=None if n % 6 == 0 else f"key_{n % 4}",
                user=("ana", "bo", None)[n % 3],
                team=("search", "support")[n % 2],
                features=[[], ["summarise"], ["summarise", "translate"], ["chat"]][n % 4],
                route=None if n % 5 == 0 else ("fast", "cheap")[n % 2],
                cached_tokens=n % 9 * 10,
                status=(200, 200, 200, 429, 200, 502)[n % 6],
                error={3: "LimitExceededError", 5: "AllAttemptsFailedError"}.get(n % 6),
                cache=("hit", "miss", "semantic-hit", None, "skip")[n % 5],
            )
        )
    return records


Keys = Callable[[UsageRecord], list[str | None]]


def reference(records: list[UsageRecord], keys: Keys) -> dict[str | None, UsageRow]:
    groups: dict[str | None, list[UsageRecord]] = defaultdict(list)
    for record in records:
        for key in keys(record):
            groups[key].append(record)
    result = {}
    for key, members in groups.items():
        latencies = sorted(r.latency_ms for r in members)
        p95 = statistics.quantiles(latencies, n=20, method="inclusive")[18] if len(latencies) > 1 else latencies[0]
        result[key] = UsageRow(
            group=key,
            requests=len(members),
            errors=sum(1 for r in members if r.error is not None or r.status >= 400),
            input_tokens=sum(r.input_tokens for r in members),
            output_tokens=sum(r.output_tokens for r in members),
            cached_tokens=sum(r.cached_tokens for r in members),
            cost_usd=sum(r.cost_usd for r in members if r.cost_usd is not None),
            unknown_cost=sum(1 for r in members if r.cost_usd is None),
            cache_hits=sum(1 for r in members if r.cache in ("hit", "semantic-hit")),
            avg_latency_ms=statistics.fmean(latencies),
            p95_latency_ms=p95,
        )
    return result


def day_in(tz: str) -> Keys:
    return lambda r: [datetime.fromtimestamp(r.ts, ZoneInfo(tz)).strftime("%Y-%m-%d")]


KEYS: dict[str, Keys] = {
    "day": day_in("UTC"),
    "provider": lambda r: [r.provider],
    "model": lambda r: [r.model],
    "deployment": lambda r: [r.deployment],
    "key": lambda r: [r.key_id],
    "feature": lambda r: list(r.features) or [None],
    "user": lambda r: [r.user],
    "team": lambda r: [r.team],
    "route": lambda r: [r.route],
}


def assert_rows_match(rows: list[UsageRow], expected: dict[str | None, UsageRow]) -> None:
    assert {r.group for r in rows} == set(expected)
    for row in rows:
        want = expected[row.group]
        for field in UsageRow.__struct_fields__[1:]:
            assert getattr(row, field) == pytest.approx(getattr(want, field), rel=1e-9), (row.group, field)


def test_every_dimension_has_a_reference() -> None:
    assert set(KEYS) == set(GROUP_BY)


@pytest.mark.parametrize("group_by", GROUP_BY)
async def test_report_matches_a_plain_aggregation(db: Database, group_by: str) -> None:
    records = dataset()
    await db.insert_usage(records)
    rows = await db.usage_report(group_by)
    assert_rows_match(rows, reference(records, KEYS[group_by]))


async def test_feature_report_counts_a_request_under_each_of_its_tags(db: Database) -> None:
    both = usage(1, features=["summarise", "translate"], cost_usd=0.5)
    untagged = usage(2, features=[], cost_usd=0.25)
    await db.insert_usage([both, untagged])
    by_tag = {r.group: r for r in await db.usage_report("feature")}
    assert set(by_tag) == {"summarise", "translate", None}
    assert by_tag["summarise"].cost_usd == by_tag["translate"].cost_usd == 0.5
    assert by_tag[None].requests == 1
    assert sum(r.requests for r in by_tag.values()) == 3  # two requests, counted three times


async def test_days_follow_the_report_time_zone(db: Database) -> None:
    # 03:00 UTC on 15 January is still the 14th in New York and already the 15th in Tokyo; 23:30 in New York
    # on the day DST starts (8 March 2026, 03:30 UTC on the 9th) belongs to the 8th.
    moments = ["2026-01-15T03:00:00+00:00", "2026-01-15T20:00:00+00:00", "2026-03-09T03:30:00+00:00"]
    await db.insert_usage([usage(i, ts=datetime.fromisoformat(m).timestamp()) for i, m in enumerate(moments)])
    zones = ("UTC", "America/New_York", "Asia/Tokyo")
    days = {tz: [r.group for r in await db.usage_report("day", tz=tz)] for tz in zones}
    assert days["UTC"] == ["2026-01-15", "2026-03-09"]
    assert days["America/New_York"] == ["2026-01-14", "2026-01-15", "2026-03-08"]
    assert days["Asia/Tokyo"] == ["2026-01-15", "2026-01-16", "2026-03-09"]


async def test_time_range_is_half_open(db: Database) -> None:
    records = dataset()
    await db.insert_usage(records)
    since, until = records[10].ts, records[50].ts
    rows = await db.usage_report("team", since, until)
    assert sum(r.requests for r in rows) == 40
    assert_rows_match(rows, reference(records[10:50], KEYS["team"]))


async def test_costliest_groups_come_first_and_days_in_order(db: Database) -> None:
    await db.insert_usage(dataset())
    by_model = await db.usage_report("model")
    assert [r.cost_usd for r in by_model] == sorted((r.cost_usd for r in by_model), reverse=True)
    by_day = await db.usage_report("day")
    assert [r.group for r in by_day] == sorted(r.group for r in by_day if r.group is not None)


async def test_empty_ledger_gives_an_empty_report(db: Database) -> None:
    assert await db.usage_report("provider") == []


async def test_bad_arguments_are_request_errors(db: Database) -> None:
    with pytest.raises(InvalidRequestError, match="cannot group usage by 'colour'"):
        await db.usage_report("colour")
    with pytest.raises(InvalidRequestError, match="unknown time zone"):
        await db.usage_report("day", tz="Mars/Olympus_Mons")


def test_p95_interpolates_like_percentile_cont() -> None:
    aggregate = P95()
    assert aggregate.finalize() is None
    for value in (40.0, 10.0, None, 30.0, 20.0):
        aggregate.step(value)
    # Ranks 0..3; 0.95 * 3 = 2.85, so 30 + 0.85 * (40 - 30).
    assert aggregate.finalize() == pytest.approx(38.5)


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "Pacific/Chatham"])
def test_cached_local_day_agrees_with_a_direct_conversion(tz: str) -> None:
    # Every 20 minutes 1 second over 2026, which crosses each zone's DST changes (Lord Howe shifts by 30 min,
    # Kathmandu sits at +5:45, Chatham at +12:45/+13:45).
    zone = ZoneInfo(tz)
    start = int(datetime.fromisoformat("2026-01-01T00:00:00+00:00").timestamp())
    for ts in range(start, start + 366 * 86_400, 1201):
        assert local_day(ts + 0.5, tz) == datetime.fromtimestamp(ts + 0.5, zone).strftime("%Y-%m-%d"), ts
