"""The usage ledger's writer: requests append records to a buffer; a background task writes them in batches.

The request path only ever calls :meth:`Ledger.record` — an append to a deque, never an ``await`` — so a slow
or dead database cannot slow a request down. The writer wakes every ``flush_interval_s``, or as soon as a
full batch is waiting, and writes batches of at most ``batch_size`` rows in one statement each.

When the database is unreachable the records stay buffered and the writer retries with capped exponential
backoff. The buffer holds at most ``max_buffer`` records; past that the oldest are dropped and counted in
``dropped``. A batch that failed after the database may have stored it is simply sent again: every row's
``request_id`` is unique in the table and inserts skip ids already there, so each request has one row however
often its batch is retried, and however many replicas write into the same database.

:meth:`Ledger.aclose` writes whatever is still buffered (bounded by ``close_timeout_s``) and reports what
could not be written, so a graceful shutdown loses nothing while the database is reachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from typing import TYPE_CHECKING

from ...errors import ConfigError, DatabaseUnavailableError
from ..records import UsageRecord
from .base import Database

if TYPE_CHECKING:
    from ...config import LedgerConfig

__all__ = ["Ledger"]

logger = logging.getLogger("switchyard.ledger")

_WARN_EVERY_S = 30.0


class Ledger:
    """Batched, buffered writes of :class:`UsageRecord` rows to a :class:`Database`.

    ```python
    ledger = Ledger(open_database("postgresql://gw@db/usage"), owns_db=True)
    await ledger.start()
    ledger.record(UsageRecord(ts=time.time(), request_id="req_1", ...))   # on the request path: O(1)
    await ledger.aclose()                                                  # writes what is left
    ```

    ``record`` must be called from the event loop's thread (it is not thread-safe, by design: no lock on the
    hot path).
    """

    def __init__(
        self,
        db: Database,
        *,
        batch_size: int = 500,
        flush_interval_s: float = 0.5,
        max_buffer: int = 100_000,
        write_timeout_s: float = 10.0,
        close_timeout_s: float = 10.0,
        retry_base_s: float = 0.25,
        retry_max_s: float = 10.0,
        owns_db: bool = False,
    ) -> None:
        if batch_size < 1 or max_buffer < batch_size or flush_interval_s <= 0:
            raise ConfigError("need batch_size >= 1, max_buffer >= batch_size and flush_interval_s > 0", key="ledger")
        self.db = db
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_buffer = max_buffer
        self.write_timeout_s = write_timeout_s
        self.close_timeout_s = close_timeout_s
        self._retry_base, self._retry_max = retry_base_s, retry_max_s
        self._owns_db = owns_db
        self._buffer: deque[UsageRecord] = deque()
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._in_flight = 0
        self._stopping = False
        self._closed = False
        self._failures = 0
        """Consecutive failed writes (0 while healthy); drives the backoff."""
        self._failing_since = 0.0
        self._warned_at = 0.0
        self.written = 0
        """Rows stored by this ledger."""
        self.duplicates = 0
        """Records the database already had (a batch sent again after an unacknowledged write)."""
        self.dropped = 0
        """Records discarded because the buffer was full (the oldest go first) or the ledger was closed."""
        self.write_errors = 0
        """Failed write attempts."""
        self.last_error: str | None = None
        """The last write failure (names the database by its redacted URL only)."""
        self.unwritten_at_close = 0

    @classmethod
    def from_config(cls, config: LedgerConfig) -> Ledger:
        """A ledger over the configured database, which it owns (closes in :meth:`aclose`)."""
        from . import open_database

        return cls(
            open_database(config.url),
            batch_size=config.batch_size,
            flush_interval_s=config.flush_interval_s,
            max_buffer=config.max_buffer,
            owns_db=True,
        )

    # -- the hot path ---------------------------------------------------------------------------------

    def record(self, rec: UsageRecord) -> None:
        """Queue one request's record. O(1); never waits on the database."""
        buffer = self._buffer
        if self._closed:
            self.dropped += 1
            return
        if len(buffer) >= self.max_buffer:
            buffer.popleft()
            self.dropped += 1
        buffer.append(rec)
        if len(buffer) >= self.batch_size and not self._failures and not self._wake.is_set():
            self._wake.set()

    # -- state ----------------------------------------------------------------------------------------

    @property
    def buffered(self) -> int:
        """Records not stored yet: waiting, or in a write that has not finished."""
        return len(self._buffer) + self._in_flight

    @property
    def healthy(self) -> bool:
        return self._failures == 0

    def stats(self) -> dict[str, int | float | str | bool | None]:
        """Counters for metrics and ``/admin/state``."""
        return {
            "buffered": self.buffered,
            "written": self.written,
            "duplicates": self.duplicates,
            "dropped": self.dropped,
            "write_errors": self.write_errors,
            "healthy": self._failures == 0,
            "last_error": self.last_error,
            "database": self.db.url,
        }

    # -- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the database and start the writer. A database that is down now is retried by the writer;
        records are buffered meanwhile."""
        if self._task is not None:
            return
        try:
            await self.db.open()
        except DatabaseUnavailableError as exc:
            self._failed(exc)
        self._task = asyncio.create_task(self._run(), name="switchyard-ledger")
        if self._buffer:
            self._wake.set()

    async def flush(self) -> None:
        """Write what is buffered now (not what arrives meanwhile, so a busy ledger cannot keep this waiting);
        raises :class:`DatabaseUnavailableError` if the database fails (the records stay buffered). Safe to call
        while the background writer runs."""
        remaining = len(self._buffer)
        while remaining > 0 and self._buffer:
            size = min(remaining, self.batch_size)
            error = await self._write_batch(self.write_timeout_s, size)
            if error is not None:
                raise error
            remaining -= size

    async def aclose(self) -> int:
        """Stop the writer and write what is still buffered, for at most ``close_timeout_s``. Returns the number
        of records that could not be written (also logged, and kept in ``unwritten_at_close``)."""
        if self._closed or self._stopping:
            return self.unwritten_at_close
        self._stopping = True
        self._wake.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.close_timeout_s
        task, self._task = self._task, None
        if task is not None:
            # Let a write in flight finish rather than cancel it: a cancelled write may still land (SQLite's
            # thread runs on), which costs nothing in rows but would leave ``written`` short.
            try:
                await asyncio.wait_for(asyncio.shield(task), self.close_timeout_s)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        while self._buffer and (left := deadline - loop.time()) > 0:
            if await self._write_batch(min(self.write_timeout_s, left)) is not None:
                await asyncio.sleep(min(self._backoff_s(), max(0.0, deadline - loop.time())))
        self._closed = True
        self.unwritten_at_close = len(self._buffer)
        if self._buffer:
            logger.error(
                "ledger: %d usage record(s) could not be written to %s before shutdown (%s)",
                len(self._buffer), self.db.url, self.last_error,
            )
            self.dropped += len(self._buffer)
            self._buffer.clear()
        if self._owns_db:
            await self.db.aclose()
        return self.unwritten_at_close

    # -- the writer -----------------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            # While the database is failing, full batches do not wake the writer early (record() does not set
            # the event then): it waits out the backoff, so a dead database is not hammered at the rate requests
            # arrive. aclose() sets the event to end the wait at once.
            woken = False
            with contextlib.suppress(TimeoutError):
                wait = self._backoff_s() if self._failures else self.flush_interval_s
                woken = await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            if self._stopping:
                return
            # Woken by a full batch: write full batches only; the remainder goes at the next tick, so rows go
            # out in full batches under load. On a tick (or a retry) write everything.
            while self._buffer and not self._stopping and (not woken or len(self._buffer) >= self.batch_size):
                if await self._write_batch(self.write_timeout_s) is not None:
                    break

    async def _write_batch(self, timeout_s: float, limit: int | None = None) -> DatabaseUnavailableError | None:
        # One batch at a time, also when flush() runs beside the writer: a flush then returns only once every
        # record that was ahead of its last batch is stored, including one the writer had in flight.
        async with self._write_lock:
            return await self._write_locked(timeout_s, limit)

    async def _write_locked(self, timeout_s: float, limit: int | None) -> DatabaseUnavailableError | None:
        size = min(limit or self.batch_size, self.batch_size, len(self._buffer))
        if size == 0:
            return None
        batch = [self._buffer.popleft() for _ in range(size)]
        self._in_flight = size
        try:
            inserted = await asyncio.wait_for(self.db.insert_usage(batch), timeout_s)
        except BaseException as exc:
            self._in_flight = 0
            # Put the batch back in front, in order: on failure to retry it, on cancellation (shutdown) for
            # aclose() to write. If the write did land, the retry inserts nothing.
            self._buffer.extendleft(reversed(batch))
            while len(self._buffer) > self.max_buffer:
                self._buffer.popleft()
                self.dropped += 1
            if isinstance(exc, DatabaseUnavailableError):
                self._failed(exc)
                return exc
            if isinstance(exc, TimeoutError):
                error = DatabaseUnavailableError(f"database {self.db.url}: write timed out after {timeout_s:.1f}s")
                self._failed(error)
                return error
            raise
        self._in_flight = 0
        self.written += inserted
        self.duplicates += size - inserted
        if self._failures:
            logger.info(
                "ledger: writing to %s again after %d failed attempt(s) over %.1fs; %d record(s) still buffered",
                self.db.url, self._failures, time.monotonic() - self._failing_since, len(self._buffer),
            )
            self._failures = 0
        return None

    def _failed(self, exc: DatabaseUnavailableError) -> None:
        now = time.monotonic()
        if not self._failures:
            self._failing_since = now
        self._failures += 1
        self.write_errors += 1
        self.last_error = exc.message
        if self._failures == 1 or now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            logger.warning(
                "ledger: cannot write usage records (%s); %d buffered, %d dropped so far; retrying",
                exc.message, len(self._buffer), self.dropped,
            )

    def _backoff_s(self) -> float:
        # Full jitter, so replicas that lost the database together do not all come back in the same instant.
        ceiling = min(self._retry_max, self._retry_base * 2 ** min(self._failures, 16))
        return random.uniform(ceiling / 2, ceiling)
