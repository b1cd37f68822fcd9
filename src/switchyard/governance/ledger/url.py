"""Database URLs: which backend, where, and a form that is safe to print.

``sqlite:///relative.db``, ``sqlite:////absolute/path.db``, ``sqlite:///:memory:``; option ``?timeout=5`` (seconds
a write waits for another process's lock). ``postgresql://user:password@host:5432/db``; option ``?schema=name``
(created on open; lets tests and tenants share one database). Other query parameters go to asyncpg unchanged.

A PostgreSQL URL may carry a password. Only :attr:`DatabaseURL.redacted` is ever logged or put in an error, and
:meth:`DatabaseURL.scrub` removes the password from driver messages that might echo it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from ...errors import ConfigError

__all__ = ["DatabaseURL", "parse_database_url", "redact_url"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class DatabaseURL:
    backend: Literal["sqlite", "postgresql"]
    redacted: str
    """The URL without its password (and without query options other than ``schema``)."""
    path: str = ""
    """SQLite: the file (``:memory:`` for an in-process database)."""
    dsn: str = field(default="", repr=False)
    """PostgreSQL: what asyncpg connects with (a secret: it may hold the password)."""
    options: dict[str, str] = field(default_factory=dict)
    """Our own options (``schema``, ``timeout``), taken out of the query string."""
    password: str | None = field(default=None, repr=False)

    def scrub(self, text: str) -> str:
        """``text`` with the password removed, for messages that came from the driver."""
        if self.password:
            text = text.replace(self.password, "***").replace(quote(self.password, safe=""), "***")
        return text


def redact_url(url: str) -> str:
    """A printable form of any database URL; never raises, never shows a password."""
    try:
        return parse_database_url(url).redacted
    except ConfigError:
        scheme, sep, _ = url.partition("://")
        return f"{scheme}://***" if sep else "***"


def parse_database_url(url: str) -> DatabaseURL:
    """Split a database URL; :class:`~switchyard.errors.ConfigError` (naming ``ledger.url``) when it is invalid.
    Error messages never repeat the URL, which may hold a password."""
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise ConfigError("expected sqlite:///path.db or postgresql://user@host:port/db", key="ledger.url")
    try:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        _ = parts.port  # validates it
    except ValueError as exc:
        raise ConfigError("malformed database URL", key="ledger.url") from exc
    if scheme == "sqlite":
        return _sqlite(parts.netloc, parts.path, query)
    if scheme in ("postgresql", "postgres"):
        hostport = parts.netloc.rpartition("@")[2]
        return _postgres(parts.username, parts.password, hostport, parts.path, query)
    raise ConfigError(f"unsupported database '{scheme}' (use sqlite or postgresql)", key="ledger.url")


def _sqlite(netloc: str, path: str, query: dict[str, str]) -> DatabaseURL:
    if netloc or not path.startswith("/") or path == "/":
        raise ConfigError("SQLite URLs look like sqlite:///relative.db or sqlite:////abs/path.db", key="ledger.url")
    unknown = set(query) - {"timeout"}
    if unknown:
        raise ConfigError(f"unknown SQLite option '{sorted(unknown)[0]}' (known: timeout)", key="ledger.url")
    if "timeout" in query:
        try:
            if float(query["timeout"]) < 0:
                raise ValueError
        except ValueError as exc:
            raise ConfigError("timeout must be a number of seconds", key="ledger.url") from exc
    file = unquote(path[1:])
    suffix = f"?{urlencode(query)}" if query else ""
    return DatabaseURL("sqlite", f"sqlite:///{file}{suffix}", path=file, options=query)


def _postgres(
    user: str | None,
    password: str | None,
    where: str,
    path: str,
    query: dict[str, str],
) -> DatabaseURL:
    options = {"schema": query.pop("schema")} if "schema" in query else {}
    if "schema" in options and not _IDENTIFIER.match(options["schema"]):
        raise ConfigError("schema must be a plain identifier (letters, digits, _)", key="ledger.url")
    password = unquote(password) if password else None
    who = f"{unquote(user)}@" if user else ""
    redacted = f"postgresql://{who}{where}{path}" + (f"?schema={options['schema']}" if options else "")
    netloc = (f"{quote(unquote(user), safe='')}" if user else "") + (
        f":{quote(password, safe='')}" if password and user else ""
    )
    netloc = f"{netloc}@{where}" if netloc else where
    dsn = urlunsplit(("postgresql", netloc, path, urlencode(query), ""))
    # libpq also takes ``?password=``; scrub that one too.
    secret = password or query.get("password")
    return DatabaseURL("postgresql", redacted, dsn=dsn, options=options, password=secret)
