"""``switchyard keys create | list | revoke``: manage virtual keys straight in the key database (the admin API's
``/admin/keys`` without a running server). The secret of a new key is printed once and never stored."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

import msgspec
import orjson

from ..config import load_config
from ..errors import DatabaseUnavailableError, InvalidRequestError
from .keys import new_key
from .ledger import KeyStore, open_database
from .ledger.usage_cmd import DEFAULT_URL
from .records import BudgetSpec, KeyLimits

__all__ = ["add_arguments", "keys_command"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", "-c", type=Path, default=None, help="read ledger.url from this configuration")
    source.add_argument("--db", default=None, help=f"database URL (default: {DEFAULT_URL})")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="issue a key (prints its secret once)")
    create.add_argument("name")
    create.add_argument("--models", default="", help="comma-separated models/routes it may use (default: all)")
    create.add_argument("--rpm", type=int, default=None)
    create.add_argument("--tpm", type=int, default=None)
    create.add_argument("--budget", action="append", default=[], metavar="USD[/daily|monthly|total]",
                        help="a hard budget of its own, e.g. 25/monthly (repeatable)")
    create.add_argument("--team", default=None)
    create.add_argument("--user", default=None)
    create.add_argument("--features", default="", help="comma-separated feature tags its spend is attributed to")
    listing = actions.add_parser("list", help="list keys (never secrets)")
    listing.add_argument("--revoked", action="store_true", help="include revoked keys")
    listing.add_argument("--json", action="store_true")
    revoke = actions.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id")


def _budget(text: str) -> BudgetSpec:
    amount, _, window = text.partition("/")
    try:
        return msgspec.convert({"limit_usd": float(amount), "window": window or "monthly"}, BudgetSpec)
    except (ValueError, msgspec.ValidationError) as exc:
        raise InvalidRequestError(f"--budget {text!r}: expected USD[/daily|monthly|total] ({exc})") from None


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


async def keys_command(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    url = load_config(args.config).ledger.url.get() if args.config else (args.db or DEFAULT_URL)
    try:
        async with open_database(url) as db:
            store = KeyStore(db)
            if args.action == "create":
                secret, key = new_key(
                    args.name, models=_split(args.models), budgets=[_budget(b) for b in args.budget],
                    limits=KeyLimits(rpm=args.rpm, tpm=args.tpm), team=args.team, user=args.user,
                    features=_split(args.features),
                )
                await store.create(key)
                print(f"created {key.id} ({key.name}). Its secret, shown only now:\n{secret}", file=out)
            elif args.action == "list":
                keys = await store.list(include_revoked=args.revoked)
                if args.json:
                    print(orjson.dumps([msgspec.to_builtins(k) for k in keys]).decode(), file=out)
                for key in [] if args.json else keys:
                    state = "revoked" if key.revoked_at else "active"
                    made = time.strftime("%Y-%m-%d", time.gmtime(key.created_at))
                    models = ",".join(key.models) or "*"
                    print(f"{key.id}  {key.display}  {key.name:<20} {state:<8} {made}  models={models}", file=out)
            elif not await store.revoke(args.id):
                print(f"switchyard: no active key '{args.id}'", file=sys.stderr)
                return 1
            else:
                print(f"revoked {args.id}", file=out)
    except (DatabaseUnavailableError, InvalidRequestError) as exc:
        print(f"switchyard: {exc}", file=sys.stderr)
        return 1
    return 0
