"""The batched writer: batching, shutdown flush, outages (buffering, drop-oldest, recovery) and concurrent
writers — every test against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from switchyard.config import LedgerConfig, Secret
from switchyard.errors import ConfigError
from switchyard.governance.ledger import Database, Ledger, open_database

from .conftest import PG_PASSWORD, Backend, eventually, usage

FAST_RETRY: dict[str, Any] = {"retry_base_s": 0.02, "retry_max_s": 0.1, "write_timeout_s": 2.0}


async def test_record_only_buffers_until_the_writer_runs(db: Database) -> None:
    ledger = Ledger(db, flush_interval_s=0.05)
    for i in range(3):
        ledger.record(usage(i))
    assert ledger.buffered == 3
    assert await db.fetch_usage() == []
    await ledger.start()
    await eventually(lambda: ledger.written == 3)
    assert ledger.buffered == 0
    assert [r.request_id for r in await db.fetch_usage()] == [usage(i).request_id for i in range(3)]
    assert await ledger.aclose() == 0


async def test_full_batches_go_out_without_waiting_for_the_interval(db: Database) -> None:
    ledger = Ledger(db, batch_size=10, flush_interval_s=60.0)
    await ledger.start()
    for i in range(25):
        ledger.record(usage(i))
    await eventually(lambda: ledger.written == 20)
    assert ledger.buffered == 5  # the partial batch waits for the interval...
    assert await ledger.aclose() == 0  # ...or for shutdown
    assert ledger.written == 25
    assert len(await db.fetch_usage()) == 25


async def test_graceful_shutdown_writes_everything_buffered(db: Database) -> None:
    ledger = Ledger(db, batch_size=100, flush_interval_s=60.0)
    await ledger.start()
    records = [usage(i) for i in range(1234)]
    for record in records:
        ledger.record(record)
    assert await ledger.aclose() == 0
    assert ledger.stats()["buffered"] == 0
    assert await db.fetch_usage() == records


async def test_the_same_request_recorded_twice_has_one_row(db: Database) -> None:
    ledger = Ledger(db, flush_interval_s=60.0)
    await ledger.start()
    ledger.record(usage(1))
    await ledger.flush()
    ledger.record(usage(1))
    ledger.record(usage(2))
    await ledger.flush()
    assert (ledger.written, ledger.duplicates) == (2, 1)
    assert [r.request_id for r in await db.fetch_usage()] == [usage(1).request_id, usage(2).request_id]
    await ledger.aclose()


async def test_flush_beside_the_running_writer_writes_what_was_buffered(db: Database) -> None:
    # The admin API flushes before a report while the background writer keeps running and requests keep coming.
    ledger = Ledger(db, batch_size=50, flush_interval_s=0.001)
    await ledger.start()
    for i in range(400):
        ledger.record(usage(i))

    async def traffic() -> None:
        for i in range(400, 800):
            ledger.record(usage(i))
            if i % 25 == 0:
                await asyncio.sleep(0)

    await asyncio.gather(ledger.flush(), traffic())
    # Everything buffered when flush() was called is stored when it returns, whoever wrote it.
    assert {r.request_id for r in await db.fetch_usage()} >= {usage(i).request_id for i in range(400)}
    assert await ledger.aclose() == 0
    assert (ledger.written, ledger.duplicates, ledger.buffered) == (800, 0, 0)
    assert len(await db.fetch_usage()) == 800


async def test_outage_buffers_then_recovery_writes_each_record_once(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="switchyard.ledger")
    db = backend.database(backend.flaky_url)
    ledger = Ledger(db, batch_size=10, flush_interval_s=0.02, **FAST_RETRY)
    await ledger.start()
    for i in range(10):
        ledger.record(usage(i))
    await eventually(lambda: ledger.written == 10)

    await backend.down()
    for i in range(10, 50):
        ledger.record(usage(i))
    await eventually(lambda: ledger.write_errors >= 3)
    stats = ledger.stats()
    assert stats["buffered"] == 40
    assert stats["healthy"] is False
    assert stats["dropped"] == 0
    assert stats["database"] == db.url
    assert isinstance(stats["last_error"], str)
    assert db.url in stats["last_error"]
    warnings = [r for r in caplog.records if r.name == "switchyard.ledger" and r.levelno == logging.WARNING]
    assert len(warnings) == 1, "failures are logged once per outage (then every 30 s), not once per retry"

    await backend.up()
    await eventually(lambda: ledger.written == 50)
    assert ledger.healthy
    assert [r.request_id for r in await db.fetch_usage()] == [usage(i).request_id for i in range(50)]
    assert any("again" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
    assert PG_PASSWORD not in caplog.text
    assert PG_PASSWORD not in str(ledger.stats())
    await ledger.aclose()


async def test_a_full_buffer_drops_the_oldest_and_counts_them(backend: Backend) -> None:
    db = backend.database(backend.flaky_url)
    ledger = Ledger(db, batch_size=10, max_buffer=20, flush_interval_s=0.02, **FAST_RETRY)
    await ledger.start()
    await backend.down()
    for i in range(35):
        ledger.record(usage(i))
    await eventually(lambda: ledger.write_errors >= 2)
    assert (ledger.buffered, ledger.dropped) == (20, 15)

    await backend.up()
    await eventually(lambda: ledger.buffered == 0 and ledger.healthy)
    assert ledger.written == 20, (ledger.stats(), ledger.written)
    assert [r.request_id for r in await db.fetch_usage()] == [usage(i).request_id for i in range(15, 35)]
    await ledger.aclose()


async def test_a_database_down_at_start_does_not_stop_the_ledger(backend: Backend) -> None:
    await backend.down()
    db = backend.database(backend.flaky_url)
    ledger = Ledger(db, flush_interval_s=0.02, **FAST_RETRY)
    await ledger.start()
    assert not ledger.healthy
    ledger.record(usage(1))
    await backend.up()
    await eventually(lambda: ledger.written == 1)
    await ledger.aclose()


async def test_shutdown_with_the_database_down_reports_what_was_not_written(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    db = backend.database(backend.flaky_url)
    ledger = Ledger(db, flush_interval_s=60.0, close_timeout_s=0.3, **FAST_RETRY)
    await ledger.start()
    await backend.down()
    for i in range(7):
        ledger.record(usage(i))
    assert await ledger.aclose() == 7
    assert ledger.unwritten_at_close == 7
    assert "7 usage record(s) could not be written" in caplog.text
    assert PG_PASSWORD not in caplog.text
    ledger.record(usage(8))
    assert ledger.dropped == 8  # the unwritten seven, and one recorded after close


async def test_shutdown_while_a_write_is_in_flight_loses_nothing_and_counts_right(backend: Backend) -> None:
    db = backend.database()
    ledger = Ledger(db, batch_size=500, flush_interval_s=0.001)
    await ledger.start()
    for i in range(3000):
        ledger.record(usage(i))
    await asyncio.sleep(0.002)  # the writer is now busy with the first batches
    assert await ledger.aclose() == 0
    assert (ledger.written, ledger.duplicates) == (3000, 0)
    assert len(await backend.database().fetch_usage()) == 3000


async def test_concurrent_writers_never_duplicate(backend: Backend) -> None:
    # Four replicas, each recording an overlapping range of request ids (a client retry landing on another
    # replica, say): every id ends up in exactly one row.
    ledgers = [Ledger(backend.database(), batch_size=50, flush_interval_s=0.01) for _ in range(4)]
    for ledger in ledgers:
        await ledger.start()

    async def replica(index: int, ledger: Ledger) -> None:
        for i in range(index * 250, index * 250 + 500):
            ledger.record(usage(i))
            if i % 40 == 0:
                await asyncio.sleep(0.001)

    await asyncio.gather(*(replica(n, ledger) for n, ledger in enumerate(ledgers)))
    assert [await ledger.aclose() for ledger in ledgers] == [0, 0, 0, 0]
    stored = await backend.database().fetch_usage()
    assert len(stored) == len({r.request_id for r in stored}) == 1250
    assert sum(ledger.written for ledger in ledgers) == 1250
    assert sum(ledger.duplicates for ledger in ledgers) == 750


async def test_from_config_owns_its_database(backend: Backend) -> None:
    config = LedgerConfig(url=Secret(backend.url), batch_size=7, flush_interval_s=0.05, max_buffer=70)
    ledger = Ledger.from_config(config)
    assert (ledger.batch_size, ledger.flush_interval_s, ledger.max_buffer) == (7, 0.05, 70)
    await ledger.start()
    ledger.record(usage(1))
    await ledger.aclose()
    assert [r.request_id for r in await backend.database().fetch_usage()] == [usage(1).request_id]
    assert ledger.written == 1


def test_invalid_sizes_are_rejected() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        Ledger(open_database("sqlite:///:memory:"), batch_size=10, max_buffer=5)
