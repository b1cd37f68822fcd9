"""Virtual keys in the database, against SQLite and PostgreSQL, and behind the real KeyRing."""

from __future__ import annotations

import time

import msgspec
import pytest

from switchyard.errors import InvalidRequestError, UnauthorizedError
from switchyard.governance.keys import KeyRing, hash_secret, new_key
from switchyard.governance.ledger import Database, KeyStore
from switchyard.governance.records import BudgetSpec, KeyLimits

from .conftest import Backend


@pytest.fixture
def keys(db: Database) -> KeyStore:
    return KeyStore(db)


async def test_a_key_round_trips_by_hash_and_by_id(keys: KeyStore) -> None:
    secret, key = new_key(
        "search-prod",
        models=["fast", "gpt"],
        budgets=[BudgetSpec(limit_usd=50.0, window="daily"), BudgetSpec(limit_usd=5.0, window="rolling", rolling_s=60)],
        limits=KeyLimits(rpm=600, tpm=100_000),
        team="search",
        user="ana",
        features=["summarise"],
        metadata={"owner": "ana@example.com"},
    )
    await keys.create(key)
    assert await keys.get_by_hash(hash_secret(secret)) == key
    assert await keys.get(key.id) == key
    assert await keys.get_by_hash(hash_secret(secret + "x")) is None
    assert await keys.get("key_missing") is None


async def test_only_the_hash_is_stored(keys: KeyStore) -> None:
    secret, key = new_key("k")
    await keys.create(key)
    stored = await keys.db.fetch_keys(key_id=key.id)
    assert secret not in str(stored)
    assert key.key_hash in str(stored)


async def test_an_id_or_secret_cannot_be_created_twice(keys: KeyStore) -> None:
    _, key = new_key("first")
    await keys.create(key)
    with pytest.raises(InvalidRequestError, match="exists"):
        await keys.create(key)
    _, other = new_key("second")
    with pytest.raises(InvalidRequestError):
        await keys.create(msgspec.structs.replace(other, key_hash=key.key_hash))
    assert [k.id for k in await keys.list()] == [key.id]


async def test_list_is_oldest_first_and_hides_revoked_keys_unless_asked(keys: KeyStore) -> None:
    created = [new_key(f"k{i}", now=1_780_000_000.0 + i)[1] for i in range(3)]
    for key in reversed(created):
        await keys.create(key)
    assert [k.id for k in await keys.list()] == [k.id for k in created]
    assert await keys.revoke(created[1].id)
    assert [k.id for k in await keys.list()] == [created[0].id, created[2].id]
    assert [k.id for k in await keys.list(include_revoked=True)] == [k.id for k in created]


async def test_revoke_is_once_and_visible_on_lookup(keys: KeyStore) -> None:
    secret, key = new_key("k")
    await keys.create(key)
    before = time.time()
    assert await keys.revoke(key.id) is True
    assert await keys.revoke(key.id) is False
    assert await keys.revoke("key_unknown") is False
    revoked = await keys.get_by_hash(hash_secret(secret))
    assert revoked is not None
    assert revoked.revoked_at is not None
    assert before <= revoked.revoked_at <= time.time()


async def test_update_changes_limits_but_cannot_unrevoke(keys: KeyStore) -> None:
    _, key = new_key("k", limits=KeyLimits(rpm=10))
    await keys.create(key)
    changed = msgspec.structs.replace(key, limits=KeyLimits(rpm=99), budgets=[BudgetSpec(limit_usd=1.0)])
    await keys.update(changed)
    assert await keys.get(key.id) == changed
    await keys.revoke(key.id)
    await keys.update(msgspec.structs.replace(changed, name="renamed", revoked_at=None))
    updated = await keys.get(key.id)
    assert updated is not None
    assert updated.name == "renamed"
    assert updated.revoked_at is not None
    _, ghost = new_key("ghost")
    with pytest.raises(InvalidRequestError, match="no key"):
        await keys.update(ghost)


async def test_keyring_authenticates_against_the_store_and_refuses_revoked_keys(keys: KeyStore) -> None:
    secret, key = new_key("k")
    await keys.create(key)
    ring = KeyRing(keys, ttl_s=0.0, miss_ttl_s=0.0)
    assert (await ring.authenticate(secret)).id == key.id
    await keys.revoke(key.id)
    with pytest.raises(UnauthorizedError, match="revoked"):
        await ring.authenticate(secret)
    with pytest.raises(UnauthorizedError, match="invalid"):
        await ring.authenticate("sk-sy-not-a-key")


async def test_keys_survive_reopening(backend: Backend) -> None:
    _, key = new_key("durable")
    first = backend.database()
    await KeyStore(first).create(key)
    await first.aclose()
    assert await KeyStore(backend.database()).get(key.id) == key
