from __future__ import annotations

import io
from pathlib import Path

import pytest

from switchyard.cli import _parser
from switchyard.governance.keys import KeyRing
from switchyard.governance.keys_cmd import keys_command
from switchyard.governance.ledger import KeyStore, open_database


async def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await keys_command(_parser().parse_args(["keys", *argv]), out)
    return code, out.getvalue()


async def test_create_list_revoke_round_trip(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'keys.db'}"
    code, text = await run("--db", db, "create", "ci", "--rpm", "10", "--budget", "25/daily", "--features", "a, b")
    assert code == 0
    secret = text.strip().splitlines()[-1]
    assert secret.startswith("sk-sy-")
    async with open_database(db) as database:
        key = await KeyRing(KeyStore(database)).authenticate(secret)
    assert (key.name, key.limits.rpm, key.features) == ("ci", 10, ["a", "b"])
    assert (key.budgets[0].limit_usd, key.budgets[0].window) == (25.0, "daily")
    _, listing = await run("--db", db, "list")
    assert key.id in listing
    assert secret not in listing
    assert (await run("--db", db, "revoke", key.id))[0] == 0
    assert (await run("--db", db, "revoke", key.id))[0] == 1
    assert key.id not in (await run("--db", db, "list"))[1]


async def test_bad_budget_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = await run("--db", f"sqlite:///{tmp_path / 'k.db'}", "create", "x", "--budget", "lots/daily")
    assert code == 1
    assert "expected USD[/daily|monthly|total]" in capsys.readouterr().err
