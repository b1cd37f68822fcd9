"""Database URLs and the ``ledger:`` configuration section: backends, options, and never printing a password."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard.config import Secret, parse_config
from switchyard.errors import ConfigError
from switchyard.governance.ledger import open_database, parse_database_url, redact_url
from switchyard.governance.ledger.postgres import PostgresDatabase
from switchyard.governance.ledger.sqlite import SQLiteDatabase

BASE: dict[str, Any] = {
    "providers": {"openai": {"type": "openai", "api_key": "sk-x"}},
    "models": {"gpt": {"provider": "openai", "model": "gpt-4o-mini"}},
}


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///switchyard.db", "switchyard.db"),
        ("sqlite:///data/usage.db", "data/usage.db"),
        ("sqlite:////var/lib/switchyard/usage.db", "/var/lib/switchyard/usage.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_paths(url: str, path: str) -> None:
    parsed = parse_database_url(url)
    assert (parsed.backend, parsed.path, parsed.redacted) == ("sqlite", path, url)
    assert isinstance(open_database(url), SQLiteDatabase)


def test_sqlite_timeout_option() -> None:
    assert parse_database_url("sqlite:///x.db?timeout=0.5").options == {"timeout": "0.5"}
    with pytest.raises(ConfigError, match="timeout"):
        parse_database_url("sqlite:///x.db?timeout=soon")
    with pytest.raises(ConfigError, match="unknown SQLite option 'mode'"):
        parse_database_url("sqlite:///x.db?mode=ro")


def test_postgres_password_stays_out_of_everything_printable() -> None:
    url = "postgresql://gateway:p%40ss-w0rd@db.internal:6432/usage?schema=tenant_a&sslmode=disable"
    parsed = parse_database_url(url)
    assert parsed.backend == "postgresql"
    assert parsed.redacted == "postgresql://gateway@db.internal:6432/usage?schema=tenant_a"
    assert parsed.options == {"schema": "tenant_a"}
    assert parsed.dsn == "postgresql://gateway:p%40ss-w0rd@db.internal:6432/usage?sslmode=disable"
    assert "p@ss-w0rd" not in repr(parsed)
    assert "p%40ss-w0rd" not in repr(parsed)
    assert parsed.scrub("auth failed for p@ss-w0rd / p%40ss-w0rd") == "auth failed for *** / ***"
    assert redact_url(url) == parsed.redacted
    db = open_database(Secret(url))
    assert isinstance(db, PostgresDatabase)
    assert db.url == parsed.redacted


def test_postgres_password_in_the_query_string_is_scrubbed_too() -> None:
    parsed = parse_database_url("postgresql://gw@db/usage?password=hunter2")
    assert parsed.redacted == "postgresql://gw@db/usage"
    assert parsed.dsn == "postgresql://gw@db/usage?password=hunter2"
    assert parsed.scrub("no hunter2 here") == "no *** here"


def test_postgres_without_credentials_or_schema() -> None:
    parsed = parse_database_url("postgres://127.0.0.1/test")
    assert parsed.redacted == "postgresql://127.0.0.1/test"
    assert parsed.dsn == "postgresql://127.0.0.1/test"
    assert parsed.options == {}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root:hunter2@db/usage", "unsupported database 'mysql'"),
        ("usage.db", "expected sqlite"),
        ("sqlite://host/usage.db", "sqlite:///relative.db"),
        ("postgresql://u:hunter2@db/x?schema=a;drop", "plain identifier"),
        ("postgresql://u:hunter2@db:99999/x", "malformed"),
    ],
)
def test_invalid_urls_name_the_key_but_not_the_url(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_database_url(url)
    assert caught.value.key == "ledger.url"
    assert "hunter2" not in str(caught.value)


def test_redact_url_never_raises() -> None:
    assert redact_url("mysql://root:hunter2@db/usage") == "mysql://***"
    assert redact_url("hunter2") == "***"


def test_ledger_config_defaults_and_overrides() -> None:
    default = parse_config(BASE).ledger
    assert default.url.get() == "sqlite:///switchyard.db"
    assert default.enabled
    assert (default.batch_size, default.flush_interval_s, default.max_buffer) == (500, 0.5, 100_000)
    section = {"url": "postgresql://gw:${PGPASS}@127.0.0.1/usage", "batch_size": 50, "timezone": "Europe/Paris"}
    config = parse_config({**BASE, "ledger": section}, env={"PGPASS": "hunter2"}).ledger
    assert config.url.get() == "postgresql://gw:hunter2@127.0.0.1/usage"
    assert "hunter2" not in repr(config)
    assert (config.batch_size, config.timezone) == (50, "Europe/Paris")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"url": "mysql://root:hunter2@db/x"}, "url must start with sqlite:// or postgresql://"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 100, "max_buffer": 10}, "max_buffer"),
        ({"timezone": "Mars/Olympus_Mons"}, "unknown time zone"),
        ({"flush": 1}, "unknown field"),
    ],
)
def test_invalid_ledger_config_names_the_section(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_config({**BASE, "ledger": section})
    assert caught.value.key == "ledger"
    assert "hunter2" not in str(caught.value)
