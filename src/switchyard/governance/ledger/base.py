"""The database seam: what the ledger, the key store and the reports need, and nothing else.

Two implementations, chosen by URL (:func:`~switchyard.governance.ledger.open_database`): SQLite (the default;
one file, stdlib ``sqlite3`` on a worker thread) and PostgreSQL (asyncpg pool; what several replicas share).
Every driver failure leaves here as :class:`~switchyard.errors.DatabaseUnavailableError`, whose message names
the database only by its redacted URL.

The schema is created when the database opens, idempotently, so any number of processes may open it at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType

from ..records import UsageRecord
from .report import UsageRow

__all__ = ["Database", "KeyRow"]

KeyRow = tuple[str, float | None]
"""A virtual key as stored: its record as JSON, and when it was revoked."""


class Database(ABC):
    url: str
    """The redacted URL: safe to log."""

    @abstractmethod
    async def open(self) -> None:
        """Connect and create the schema. Idempotent; every other method opens the database when needed, so a
        database that is down at start-up is retried by the next call."""

    @abstractmethod
    async def aclose(self) -> None: ...

    @abstractmethod
    async def insert_usage(self, records: Sequence[UsageRecord]) -> int:
        """Write records in one transaction; a ``request_id`` already stored is skipped, so a batch retried after
        a lost acknowledgement never duplicates. Returns how many rows were new."""

    @abstractmethod
    async def fetch_usage(
        self, *, since: float | None = None, until: float | None = None, limit: int | None = None
    ) -> list[UsageRecord]:
        """Records with ``since <= ts < until``, oldest first."""

    @abstractmethod
    async def usage_report(
        self, group_by: str, since: float | None = None, until: float | None = None, tz: str = "UTC"
    ) -> list[UsageRow]:
        """Requests, errors, tokens, cost and latency per ``group_by`` (one of
        :data:`~switchyard.governance.ledger.report.GROUP_BY`) over ``since <= ts < until``. ``day`` is the local
        day in ``tz``; ``feature`` counts a request under each of its tags. Invalid arguments raise
        :class:`~switchyard.errors.InvalidRequestError`."""

    @abstractmethod
    async def insert_key(self, key_id: str, key_hash: str, created_at: float, record: str) -> bool:
        """Store a key; ``False`` when its id or hash is taken."""

    @abstractmethod
    async def fetch_keys(
        self, *, key_id: str | None = None, key_hash: str | None = None, include_revoked: bool = True
    ) -> list[KeyRow]:
        """Keys by id, by hash, or all of them (oldest first)."""

    @abstractmethod
    async def update_key(self, key_id: str, key_hash: str, record: str) -> bool:
        """Replace a key's record (not its revocation); ``False`` when there is no such key."""

    @abstractmethod
    async def revoke_key(self, key_id: str, at: float) -> bool:
        """``True`` when an active key was revoked now; ``False`` when it is unknown or already revoked."""

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
