"""Who is calling: open gateways take any key (without an exception per request), until a virtual key is used."""

from __future__ import annotations

import msgspec
import pytest

from switchyard.config import GovernanceConfig, Secret
from switchyard.errors import UnauthorizedError
from switchyard.governance.auth import OPEN, Authenticator
from switchyard.governance.keys import new_key
from switchyard.governance.records import VirtualKey


class _Keys:
    """The key store's read side, in memory; counts lookups so the tests see what the ring caches."""

    def __init__(self, *keys: VirtualKey) -> None:
        self.by_hash = {k.key_hash: k for k in keys}
        self.lookups = 0

    async def create(self, key: VirtualKey) -> None:
        self.by_hash[key.key_hash] = key

    async def get_by_hash(self, key_hash: str) -> VirtualKey | None:
        self.lookups += 1
        return self.by_hash.get(key_hash)

    async def get(self, key_id: str) -> VirtualKey | None:
        return next((k for k in self.by_hash.values() if k.id == key_id), None)

    async def list(self, include_revoked: bool = False) -> list[VirtualKey]:
        return [k for k in self.by_hash.values() if include_revoked or k.revoked_at is None]

    async def revoke(self, key_id: str) -> bool:
        return False

    async def update(self, key: VirtualKey) -> None:
        self.by_hash[key.key_hash] = key


async def test_an_open_gateway_takes_unknown_and_revoked_keys_as_anonymous() -> None:
    keys = _Keys()
    auth = Authenticator(GovernanceConfig(), keys)
    await auth.start()
    assert not auth.required
    assert await auth.caller("sk-anything-the-sdk-sends") is OPEN
    assert await auth.caller("sk-anything-the-sdk-sends") is OPEN
    assert keys.lookups == 1  # the miss is remembered: no store lookup per request
    secret, key = new_key("old")
    await keys.create(msgspec.structs.replace(key, revoked_at=1.0))
    assert await auth.caller(secret) is OPEN
    assert not auth.required


async def test_the_first_valid_virtual_key_makes_keys_required() -> None:
    secret, key = new_key("team-a")
    keys = _Keys()
    auth = Authenticator(GovernanceConfig(), keys)
    await auth.start()  # no keys yet: open
    await keys.create(key)
    caller = await auth.caller(secret)
    assert caller.key is not None
    assert caller.key.id == key.id
    assert auth.required
    with pytest.raises(UnauthorizedError, match="invalid API key"):
        await auth.caller("sk-not-a-key")
    with pytest.raises(UnauthorizedError, match="missing API key"):
        await auth.caller(None)


async def test_required_auth_refuses_unknown_keys_and_accepts_the_master_key() -> None:
    auth = Authenticator(GovernanceConfig(master_key=Secret("sk-master-0123456789")), _Keys())
    await auth.start()
    assert auth.required
    assert (await auth.caller("sk-master-0123456789")).master
    with pytest.raises(UnauthorizedError, match="invalid API key"):
        await auth.caller("sk-not-a-key")
