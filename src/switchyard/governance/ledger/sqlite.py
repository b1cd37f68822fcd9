"""SQLite backend: one file, the default when nothing else is configured.

``sqlite3`` blocks, so every call runs on one dedicated worker thread that owns the connection: the event
loop never waits on disk, and writes from this process are serialised (SQLite allows one writer at a time
anyway). WAL mode lets readers — ``switchyard usage`` in another process — run while the gateway writes;
``synchronous=NORMAL`` is durable across a crash of the process, which is the failure that matters here.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ...errors import DatabaseUnavailableError
from ..records import UsageRecord
from .base import Database, KeyRow
from .report import P95, Dialect, UsageRow, check_report_args, local_day, report_sql, sort_rows, to_row
from .schema import USAGE_COLUMNS, decode_usage, encode_usage
from .url import DatabaseURL, parse_database_url

__all__ = ["SQLiteDatabase"]

_T = TypeVar("_T")

_TYPES = {"text": "TEXT", "int": "INTEGER", "float": "REAL", "bool": "INTEGER", "json": "TEXT"}
_NAMES = ", ".join(c.quoted for c in USAGE_COLUMNS)
_INSERT = (
    f"INSERT INTO usage ({_NAMES}) VALUES ({', '.join('?' for _ in USAGE_COLUMNS)}) ON CONFLICT DO NOTHING"
)
_DIALECT = Dialect(
    table="usage",
    placeholder=lambda i: f"?{i}",
    day="sy_day(u.ts, {tz})",
    features="LEFT JOIN json_each(u.features) AS f",
    feature_value="f.value",
    p95="sy_p95(u.latency_ms)",
)


def _column_sql(name: str, kind: str) -> str:
    extra = " NOT NULL" if name in ("ts", "request_id") else ""
    return f'"{name}" {_TYPES[kind]}{extra}'


# A row is identified by its start time and request id: a batch sent again after a failure carries the same
# pairs, so ``ON CONFLICT DO NOTHING`` keeps it exactly once, while two requests that reuse a client's
# ``x-request-id`` are still two rows. The key is time-ordered, so a batch appends to the right edge of one index
# that also serves every ``ts`` range query. (Keyed on the random request id alone, each row of a batch dirtied
# its own index page: ~4 extra page writes and ~40 µs of the serving process's CPU per request at c=32.)
_USAGE_KEY = 'UNIQUE ("ts", "request_id")'


class SQLiteDatabase(Database):
    def __init__(self, url: str | DatabaseURL = "sqlite:///switchyard.db", *, timeout_s: float | None = None) -> None:
        parsed = url if isinstance(url, DatabaseURL) else parse_database_url(url)
        self.url = parsed.redacted
        self.path = parsed.path
        self._timeout = timeout_s if timeout_s is not None else float(parsed.options.get("timeout", 5.0))
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    async def open(self) -> None:
        async with self._lock:
            if self._closed:
                raise DatabaseUnavailableError(f"database {self.url} is closed")
            if self._conn is not None:
                return
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="switchyard-sqlite")
            self._conn = await self._call(self._connect)

    async def aclose(self) -> None:
        async with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
            conn, self._conn = self._conn, None
            if executor is None:
                return
            if conn is not None:
                await asyncio.get_running_loop().run_in_executor(executor, conn.close)
            executor.shutdown(wait=False)

    async def _call(self, fn: Callable[[], _T]) -> _T:
        assert self._executor is not None
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
        except (sqlite3.Error, OSError) as exc:
            raise DatabaseUnavailableError(f"database {self.url}: {type(exc).__name__}: {exc}") from exc

    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._conn is None:
            await self.open()
        conn = self._conn
        if conn is None:
            raise DatabaseUnavailableError(f"database {self.url} is closed")
        return await self._call(lambda: fn(conn))

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE), so a write takes the lock up front
        # instead of failing half-way when another process holds it.
        conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
        try:
            _set_wal(conn, self._timeout)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.create_function("sy_day", 2, local_day, deterministic=True)
            # typeshed wants finalize() -> int; SQLite takes any SQL value (P95 returns a float).
            conn.create_aggregate("sy_p95", 1, P95)  # type: ignore[arg-type]
            _transaction(conn, _create_schema)
        except BaseException:
            conn.close()
            raise
        return conn

    async def insert_usage(self, records: Sequence[UsageRecord]) -> int:
        if not records:
            return 0

        def write(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            _transaction(conn, lambda c: c.executemany(_INSERT, [encode_usage(r) for r in records]))
            return conn.total_changes - before

        return await self._run(write)

    async def fetch_usage(
        self, *, since: float | None = None, until: float | None = None, limit: int | None = None
    ) -> list[UsageRecord]:
        where, params = _range(since, until)
        sql = f"SELECT {_NAMES} FROM usage {where} ORDER BY ts, request_id" + (" LIMIT ?" if limit else "")
        rows = await self._run(lambda c: c.execute(sql, [*params, limit] if limit else params).fetchall())
        names = [c.name for c in USAGE_COLUMNS]
        return [decode_usage(names, row) for row in rows]

    async def usage_report(
        self, group_by: str, since: float | None = None, until: float | None = None, tz: str = "UTC"
    ) -> list[UsageRow]:
        check_report_args(group_by, tz)
        sql, params = report_sql(_DIALECT, group_by, since, until, tz)
        rows = await self._run(lambda c: c.execute(sql, params).fetchall())
        return sort_rows([to_row(row) for row in rows], group_by)

    async def insert_key(self, key_id: str, key_hash: str, created_at: float, record: str) -> bool:
        sql = (
            "INSERT INTO virtual_keys (id, key_hash, created_at, record) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING"
        )
        return await self._run(lambda c: c.execute(sql, (key_id, key_hash, created_at, record)).rowcount == 1)

    async def fetch_keys(
        self, *, key_id: str | None = None, key_hash: str | None = None, include_revoked: bool = True
    ) -> list[KeyRow]:
        clauses, params = [], []
        if key_id is not None:
            clauses.append("id = ?")
            params.append(key_id)
        if key_hash is not None:
            clauses.append("key_hash = ?")
            params.append(key_hash)
        if not include_revoked:
            clauses.append("revoked_at IS NULL")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT record, revoked_at FROM virtual_keys {where} ORDER BY created_at, id"
        rows: list[Any] = await self._run(lambda c: c.execute(sql, params).fetchall())
        return [(str(record), revoked_at) for record, revoked_at in rows]

    async def update_key(self, key_id: str, key_hash: str, record: str) -> bool:
        sql = "UPDATE virtual_keys SET key_hash = ?, record = ? WHERE id = ?"
        return await self._run(lambda c: c.execute(sql, (key_hash, record, key_id)).rowcount == 1)

    async def revoke_key(self, key_id: str, at: float) -> bool:
        sql = "UPDATE virtual_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
        return await self._run(lambda c: c.execute(sql, (at, key_id)).rowcount == 1)


def _set_wal(conn: sqlite3.Connection, timeout_s: float) -> None:
    # Switching a new file to WAL needs an exclusive lock, and SQLite answers "database is locked" at once, without
    # its busy handler, when another connection is opening the same file: replicas (or workers) starting together.
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], object]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        work(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _create_schema(conn: sqlite3.Connection) -> None:
    columns = ", ".join(_column_sql(c.name, c.kind) for c in USAGE_COLUMNS)
    existing = {row[1] for row in conn.execute("PRAGMA table_info(usage)")}
    if not existing:
        conn.execute(f"CREATE TABLE usage ({columns}, {_USAGE_KEY})")
        existing = {c.name for c in USAGE_COLUMNS}
    for column in USAGE_COLUMNS:
        if column.name not in existing:
            conn.execute(f"ALTER TABLE usage ADD COLUMN {_column_sql(column.name, column.kind)}")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS virtual_keys (id TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, "
        "created_at REAL NOT NULL, revoked_at REAL, record TEXT NOT NULL)"
    )


def _range(since: float | None, until: float | None) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if since is not None:
        clauses.append("ts >= ?")
        params.append(since)
    if until is not None:
        clauses.append("ts < ?")
        params.append(until)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params
