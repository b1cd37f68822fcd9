"""``switchyard usage`` end to end on a SQLite file: through ``main()``, outputs parsed back."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from pathlib import Path

import orjson
import pytest

from switchyard.cli import main
from switchyard.governance.ledger import UsageRow, open_database
from switchyard.governance.records import UsageRecord

from .conftest import PG_PASSWORD, usage

CONFIG = """
providers:
  openai: {{type: openai, api_key: sk-none, base_url: "http://127.0.0.1:9/v1"}}
models:
  gpt: {{provider: openai, model: gpt-4o-mini}}
ledger:
  url: "sqlite:///{path}"
  timezone: Asia/Tokyo
"""

NOW = time.time()


def seed(path: Path, records: list[UsageRecord]) -> None:
    async def write() -> None:
        db = open_database(f"sqlite:///{path}")
        await db.insert_usage(records)
        await db.aclose()

    asyncio.run(write())


def report(path: Path, group_by: str, since: float | None = None, tz: str = "UTC") -> list[UsageRow]:
    async def read() -> list[UsageRow]:
        db = open_database(f"sqlite:///{path}")
        try:
            return await db.usage_report(group_by, since, None, tz)
        finally:
            await db.aclose()

    return asyncio.run(read())


@pytest.fixture
def ledger_file(tmp_path: Path) -> Path:
    path = tmp_path / "usage.db"
    # Twenty requests over the last ten hours, and ten from three weeks ago.
    recent = [usage(i, ts=NOW - i * 1800, features=["a", "b"] if i % 2 else []) for i in range(20)]
    old = [usage(100 + i, ts=NOW - 21 * 86_400 - i) for i in range(10)]
    seed(path, recent + old)
    return path


def test_csv_report_parses_back(ledger_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["usage", "--db", f"sqlite:///{ledger_file}", "--by", "provider", "--format", "csv"]) == 0
    lines = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    expected = report(ledger_file, "provider")
    assert [line["provider"] for line in lines] == [row.group for row in expected]
    assert [int(line["requests"]) for line in lines] == [row.requests for row in expected]
    assert [float(line["cost_usd"]) for line in lines] == [row.cost_usd for row in expected]
    assert sum(int(line["requests"]) for line in lines) == 30


def test_json_report_with_a_relative_since(ledger_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["usage", "--db", f"sqlite:///{ledger_file}", "--by", "feature", "--since", "7d", "-f", "json"]) == 0
    document = orjson.loads(capsys.readouterr().out)
    assert document["by"] == "feature"
    assert "note" in document
    rows = [UsageRow(**row) for row in document["data"]]
    assert rows == report(ledger_file, "feature", since=document["since"])
    assert {row.group: row.requests for row in rows} == {"a": 10, "b": 10, None: 10}
    assert NOW - 7 * 86_400 - 60 < document["since"] <= time.time() - 7 * 86_400


def test_table_report_reads_the_database_and_time_zone_from_the_config(
    ledger_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "switchyard.yaml"
    config.write_text(CONFIG.format(path=ledger_file))
    assert main(["usage", "--config", str(config), "--by", "day"]) == 0
    out = capsys.readouterr().out
    assert "Asia/Tokyo" in out
    for row in report(ledger_file, "day", tz="Asia/Tokyo"):
        assert row.group is not None
        assert row.group in out
    assert "total" in out


def test_missing_database_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["usage", "--db", f"sqlite:///{tmp_path / 'absent.db'}"]) == 1
    assert "no usage database" in capsys.readouterr().err
    assert not (tmp_path / "absent.db").exists()


def test_unreadable_time_is_an_error(ledger_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["usage", "--db", f"sqlite:///{ledger_file}", "--since", "last tuesday"]) == 2
    assert "cannot read 'last tuesday'" in capsys.readouterr().err


def test_unreachable_postgres_is_reported_without_its_password(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:1/test"
    assert main(["usage", "--db", url]) == 1
    err = capsys.readouterr().err
    assert "postgresql://postgres@127.0.0.1:1/test" in err
    assert PG_PASSWORD not in err
