"""The database backends (schema, usage rows, failures): the same tests against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import asyncpg
import msgspec
import pytest

from switchyard.errors import DatabaseUnavailableError
from switchyard.governance.ledger import Database, open_database
from switchyard.governance.ledger.schema import USAGE_COLUMNS
from switchyard.governance.records import UsageRecord

from .conftest import PG_DSN, PG_PASSWORD, Backend, usage


def test_every_record_field_has_a_column() -> None:
    assert [c.name for c in USAGE_COLUMNS] == list(UsageRecord.__struct_fields__)
    kinds = {c.name: c.kind for c in USAGE_COLUMNS}
    assert kinds["features"] == "json"
    assert kinds["stream"] == "bool"
    assert kinds["cache"] == "text"
    assert kinds["cost_usd"] == "float"
    assert kinds["attempts"] == "int"


async def test_every_field_round_trips(db: Database) -> None:
    full = UsageRecord(
        ts=1_780_000_123.25,
        request_id="req-full",
        key_id="key_abc",
        user="ana@example.com",
        team="search",
        features=["summarise", "ünïcode"],
        route="fast",
        provider="anthropic",
        deployment="claude",
        model="claude-sonnet-4-6",
        input_tokens=1234,
        output_tokens=56,
        cached_tokens=1000,
        cost_usd=0.0123,
        latency_ms=812.5,
        status=200,
        error=None,
        cache="semantic-hit",
        attempts=2,
        tier="balanced",
        stream=True,
    )
    sparse = UsageRecord(ts=1_780_000_124.0, request_id="req-sparse", status=503, error="AllAttemptsFailedError")
    assert await db.insert_usage([full, sparse]) == 2
    assert await db.fetch_usage() == [full, sparse]


async def test_a_retried_batch_never_duplicates(db: Database) -> None:
    batch = [usage(i) for i in range(50)]
    assert await db.insert_usage(batch) == 50
    assert await db.insert_usage(batch) == 0
    overlapping = [usage(i) for i in range(40, 70)]
    assert await db.insert_usage(overlapping) == 20
    stored = await db.fetch_usage()
    assert [r.request_id for r in stored] == [usage(i).request_id for i in range(70)]


async def test_two_requests_reusing_a_client_request_id_are_two_rows(db: Database) -> None:
    # x-request-id comes from the client, which may reuse it; a row is its (start time, request id).
    first, second = usage(1), msgspec.structs.replace(usage(2), request_id=usage(1).request_id)
    assert await db.insert_usage([first, second]) == 2
    assert await db.insert_usage([second]) == 0
    assert await db.fetch_usage() == [first, second]


async def test_fetch_is_half_open_in_time_and_limited(db: Database) -> None:
    await db.insert_usage([usage(i) for i in range(10)])
    t0 = usage(0).ts
    picked = await db.fetch_usage(since=t0 + 3, until=t0 + 7)
    assert [r.request_id for r in picked] == [usage(i).request_id for i in (3, 4, 5, 6)]
    assert len(await db.fetch_usage(limit=4)) == 4
    assert await db.insert_usage([]) == 0


async def test_schema_creation_is_idempotent_across_concurrent_openers(backend: Backend) -> None:
    databases = [backend.database() for _ in range(4)]
    await asyncio.gather(*(d.open() for d in databases))
    written = await asyncio.gather(*(d.insert_usage([usage(i)]) for i, d in enumerate(databases)))
    assert written == [1, 1, 1, 1]
    again = backend.database()
    await again.open()
    assert len(await again.fetch_usage()) == 4


async def test_a_table_from_an_older_version_gets_the_new_columns(backend: Backend) -> None:
    # The table as a release without ``tier`` and ``stream`` would have created it, with one row in it.
    old = ['"ts" REAL NOT NULL', '"request_id" TEXT PRIMARY KEY', '"provider" TEXT', '"cost_usd" REAL']
    if backend.name == "sqlite":
        path = backend.url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as lite:
            lite.execute(f"CREATE TABLE usage ({', '.join(old)})")
            lite.execute("INSERT INTO usage VALUES (1.0, 'old-row', 'openai', 0.5)")
        lite.close()
    else:
        schema = backend.url.rpartition("schema=")[2]
        pg = await asyncpg.connect(PG_DSN)
        await pg.execute(f'CREATE SCHEMA "{schema}"')
        await pg.execute(f"CREATE TABLE \"{schema}\".usage ({', '.join(old).replace('REAL', 'float8')})")
        await pg.execute(f"INSERT INTO \"{schema}\".usage VALUES (1.0, 'old-row', 'openai', 0.5)")
        await pg.close()
    db = backend.database()
    new = usage(1, tier="cheap", stream=True, features=["x"])
    assert await db.insert_usage([new]) == 1
    old_row, new_row = await db.fetch_usage()
    assert old_row == UsageRecord(ts=1.0, request_id="old-row", provider="openai", cost_usd=0.5)
    assert new_row == new


async def test_closed_database_refuses_work(backend: Backend) -> None:
    db = backend.database()
    await db.open()
    await db.aclose()
    with pytest.raises(DatabaseUnavailableError, match="closed"):
        await db.insert_usage([usage(1)])


async def test_unreachable_postgres_is_reported_without_the_password() -> None:
    db = open_database(f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:1/test?schema=nowhere")
    with pytest.raises(DatabaseUnavailableError) as caught:
        await db.insert_usage([usage(1)])
    message = str(caught.value)
    assert "postgresql://postgres@127.0.0.1:1/test?schema=nowhere" in message
    assert PG_PASSWORD not in message
    await db.aclose()


async def test_unopenable_sqlite_file_is_a_database_error(tmp_path: Path) -> None:
    (tmp_path / "a-directory.db").mkdir()
    db = open_database(f"sqlite:///{tmp_path / 'a-directory.db'}")
    with pytest.raises(DatabaseUnavailableError, match=r"a-directory\.db"):
        await db.open()
    await db.aclose()


async def test_a_database_down_at_first_use_is_retried_on_the_next_call(backend: Backend) -> None:
    await backend.down()
    db = backend.database(backend.flaky_url)
    with pytest.raises(DatabaseUnavailableError):
        await db.insert_usage([usage(1)])
    await backend.up()
    assert await db.insert_usage([usage(1)]) == 1


async def test_sqlite_uses_wal_so_readers_do_not_wait_for_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    db = open_database(f"sqlite:///{path}")
    await db.insert_usage([usage(1)])
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    await db.aclose()

