"""Virtual keys in the database (implements :class:`~switchyard.governance.keys.KeyStoreLike`).

A key is stored as its record (JSON) beside the columns it is looked up by: ``id``, and ``key_hash`` (unique,
indexed: the per-request lookup, cached by :class:`~switchyard.governance.keys.KeyRing`). No secret is ever
stored, only its SHA-256. Revocation is its own column, set once by :meth:`KeyStore.revoke`: an
:meth:`KeyStore.update` changes a key's limits, budgets or models but cannot bring a revoked key back.
"""

from __future__ import annotations

import builtins
import time

import msgspec

from ...errors import InvalidRequestError
from ..records import VirtualKey
from .base import Database, KeyRow

__all__ = ["KeyStore"]

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(VirtualKey)


class KeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, key: VirtualKey) -> None:
        """Store a new key. :class:`InvalidRequestError` when its id or hash is already taken."""
        record = _encoder.encode(msgspec.structs.replace(key, revoked_at=None)).decode()
        if not await self.db.insert_key(key.id, key.key_hash, key.created_at, record):
            raise InvalidRequestError(f"a key with id '{key.id}' or the same secret exists", code="key_exists")
        if key.revoked_at is not None:
            await self.db.revoke_key(key.id, key.revoked_at)

    async def get_by_hash(self, key_hash: str) -> VirtualKey | None:
        """The key whose secret hashes to ``key_hash`` (revoked keys too: the caller says why it is refused)."""
        return _one(await self.db.fetch_keys(key_hash=key_hash))

    async def get(self, key_id: str) -> VirtualKey | None:
        return _one(await self.db.fetch_keys(key_id=key_id))

    async def list(self, include_revoked: bool = False) -> builtins.list[VirtualKey]:
        """Keys, oldest first."""
        return [_decode(row) for row in await self.db.fetch_keys(include_revoked=include_revoked)]

    async def revoke(self, key_id: str) -> bool:
        """``True`` when an active key was revoked; ``False`` when there is none by that id (or it was revoked
        already)."""
        return await self.db.revoke_key(key_id, time.time())

    async def update(self, key: VirtualKey) -> None:
        """Replace a key's record (limits, budgets, models, metadata...). Its revocation state is kept.
        :class:`InvalidRequestError` when there is no key with that id."""
        record = _encoder.encode(msgspec.structs.replace(key, revoked_at=None)).decode()
        if not await self.db.update_key(key.id, key.key_hash, record):
            raise InvalidRequestError(f"no key '{key.id}'", code="key_not_found")


def _decode(row: KeyRow) -> VirtualKey:
    record, revoked_at = row
    key = _decoder.decode(record)
    return key if revoked_at is None else msgspec.structs.replace(key, revoked_at=revoked_at)


def _one(rows: builtins.list[KeyRow]) -> VirtualKey | None:
    return _decode(rows[0]) if rows else None
