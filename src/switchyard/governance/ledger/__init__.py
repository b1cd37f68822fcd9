"""The usage ledger and the virtual-key store: persistence for governance.

```python
db = open_database(config.ledger.url)     # sqlite:///switchyard.db (default) or postgresql://...
ledger = Ledger(db, batch_size=500)       # ledger.record(UsageRecord(...)) on the request path
keys = KeyStore(db)                       # create / get_by_hash / get / list / revoke / update
rows = await db.usage_report("feature", since, until, tz="Europe/Paris")
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Database
from .keystore import KeyStore
from .report import FEATURE_NOTE, GROUP_BY, GroupBy, UsageRow
from .url import DatabaseURL, parse_database_url, redact_url
from .writer import Ledger

if TYPE_CHECKING:
    from ...config import Secret

__all__ = [
    "FEATURE_NOTE",
    "GROUP_BY",
    "Database",
    "DatabaseURL",
    "GroupBy",
    "KeyStore",
    "Ledger",
    "UsageRow",
    "open_database",
    "parse_database_url",
    "redact_url",
]


def open_database(url: str | Secret) -> Database:
    """The backend for ``url`` (not connected yet: it connects on first use or :meth:`Database.open`).
    :class:`~switchyard.errors.ConfigError` for an unsupported or malformed URL."""
    parsed = parse_database_url(url if isinstance(url, str) else url.get())
    if parsed.backend == "sqlite":
        from .sqlite import SQLiteDatabase

        return SQLiteDatabase(parsed)
    from .postgres import PostgresDatabase

    return PostgresDatabase(parsed)
