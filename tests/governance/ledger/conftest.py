"""Both database backends for every ledger test: a fresh SQLite file, and a fresh schema in the real PostgreSQL
at 127.0.0.1:5432 (dropped afterwards). ``outage`` makes the database unreachable and brings it back: a lock
held by another connection for SQLite, a TCP proxy that is cut for PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from switchyard.governance.ledger import Database, open_database
from switchyard.governance.records import UsageRecord

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_PASSWORD = "pw-never-logged-7f3a"
"""Put in every proxied PostgreSQL URL: the server trusts local connections, so it is never checked, but it
must never show up in an error, a log line or a stat."""


class TcpProxy:
    """Forwards 127.0.0.1:<port> to PostgreSQL; :meth:`cut` drops every connection and stops listening, as a
    database host going away does; :meth:`restore` listens on the same port again."""

    def __init__(self, target_port: int = 5432) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)
        for w in (writer, up_writer):
            w.transport.abort()
            self._writers.discard(w)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


@dataclass
class Backend:
    """One backend under test. ``url`` reaches it directly; ``flaky_url`` goes through what ``down()`` cuts."""

    name: str
    url: str
    flaky_url: str
    down: Callable[[], Awaitable[None]]
    up: Callable[[], Awaitable[None]]
    opened: list[Database] = field(default_factory=list)

    def database(self, url: str | None = None) -> Database:
        db = open_database(url or self.url)
        self.opened.append(db)
        return db


async def _sqlite(tmp_path: Path) -> AsyncIterator[Backend]:
    path = tmp_path / "usage.db"
    holder: list[sqlite3.Connection] = []

    async def down() -> None:
        # Another process holding the write lock: our writes fail once their (short) busy timeout expires.
        conn = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN EXCLUSIVE")
        holder.append(conn)

    async def up() -> None:
        while holder:
            conn = holder.pop()
            conn.execute("ROLLBACK")
            conn.close()

    backend = Backend("sqlite", f"sqlite:///{path}", f"sqlite:///{path}?timeout=0.05", down, up)
    yield backend
    await up()


async def _postgres() -> AsyncIterator[Backend]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        conn = await asyncpg.connect(PG_DSN, timeout=5)
    except OSError:
        pytest.fail("PostgreSQL at 127.0.0.1:5432 is required (.ci/run starts it)")
    proxy = TcpProxy()
    await proxy.restore()
    backend = Backend(
        "postgresql",
        f"{PG_DSN}?schema={schema}",
        f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{proxy.port}/test?schema={schema}",
        proxy.cut,
        proxy.restore,
    )
    try:
        yield backend
    finally:
        await proxy.cut()
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    factory = _sqlite(tmp_path) if request.param == "sqlite" else _postgres()
    made = await anext(factory)
    try:
        yield made
    finally:
        for db in made.opened:
            await db.aclose()
        with contextlib.suppress(StopAsyncIteration):
            await anext(factory)


@pytest.fixture
async def db(backend: Backend) -> AsyncIterator[Database]:
    database = backend.database()
    await database.open()
    yield database
    await database.aclose()


def usage(n: int, **fields: Any) -> UsageRecord:
    """A record with id ``req-<n>`` and a spread of values derived from ``n``."""
    defaults: dict[str, Any] = {
        "ts": 1_780_000_000.0 + n,
        "request_id": f"req-{n:06d}",
        "provider": ("openai", "anthropic", "gemini")[n % 3],
        "model": ("gpt-4o-mini", "claude-sonnet", "gemini-flash")[n % 3],
        "deployment": ("gpt", "claude", "gemini")[n % 3],
        "input_tokens": 100 + n,
        "output_tokens": 10 + n % 7,
        "cost_usd": None if n % 5 == 0 else 0.001 * (n % 11 + 1),
        "latency_ms": 50.0 + (n * 37) % 400,
    }
    defaults.update(fields)
    return UsageRecord(**defaults)


async def eventually(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
