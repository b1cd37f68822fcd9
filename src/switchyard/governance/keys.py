"""Virtual keys: issued by the gateway, stored only as a SHA-256 hash, looked up once per request.

A lookup is a hash and a dictionary hit: records are cached for ``ttl_s`` (default 5 s), so a key revoked on
another replica stops working there within that time, and at once on the replica that revoked it. Unknown
secrets are cached too (briefly), so a client retrying a bad key cannot turn every request into a query.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from ..errors import UnauthorizedError
from .records import BudgetSpec, KeyLimits, VirtualKey

__all__ = ["KEY_PREFIX", "KeyRing", "KeyStoreLike", "hash_secret", "new_key"]

KEY_PREFIX = "sk-sy-"


class KeyStoreLike(Protocol):
    async def create(self, key: VirtualKey) -> None: ...
    async def get_by_hash(self, key_hash: str) -> VirtualKey | None: ...
    async def get(self, key_id: str) -> VirtualKey | None: ...
    async def list(self, include_revoked: bool = False) -> list[VirtualKey]: ...
    async def revoke(self, key_id: str) -> bool: ...
    async def update(self, key: VirtualKey) -> None: ...


def hash_secret(secret: str) -> str:
    # A fast hash is right here: the secret is 192 random bits, so there is nothing to brute-force, and the
    # lookup runs on every request.
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(
    name: str,
    *,
    models: list[str] | None = None,
    budgets: list[BudgetSpec] | None = None,
    limits: KeyLimits | None = None,
    team: str | None = None,
    user: str | None = None,
    features: list[str] | None = None,
    metadata: dict[str, str] | None = None,
    now: float | None = None,
) -> tuple[str, VirtualKey]:
    """A new secret and its record. The secret is shown once, to whoever created it, and never stored."""
    secret = KEY_PREFIX + secrets.token_urlsafe(24)
    record = VirtualKey(
        id=f"key_{uuid.uuid4().hex[:16]}",
        name=name,
        key_hash=hash_secret(secret),
        display=f"{secret[:10]}…{secret[-4:]}",
        created_at=time.time() if now is None else now,
        models=models or [],
        budgets=budgets or [],
        limits=limits or KeyLimits(),
        team=team,
        user=user,
        features=features or [],
        metadata=metadata or {},
    )
    return secret, record


class KeyRing:
    def __init__(
        self,
        store: KeyStoreLike,
        *,
        ttl_s: float = 5.0,
        miss_ttl_s: float = 1.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._ttl, self._miss_ttl, self._max = ttl_s, miss_ttl_s, max_entries
        self._cache: OrderedDict[str, tuple[float, VirtualKey | None]] = OrderedDict()
        self._clock = clock

    async def authenticate(self, secret: str) -> VirtualKey:
        key = await self.find(secret)
        if key is None:
            raise UnauthorizedError("invalid API key")
        if key.revoked_at is not None:
            raise UnauthorizedError(f"API key {key.display} was revoked")
        return key

    async def find(self, secret: str) -> VirtualKey | None:
        """The key record ``secret`` belongs to (revoked or not), or ``None``; cached for a few seconds."""
        key_hash = hash_secret(secret)
        now = self._clock()
        cached = self._cache.get(key_hash)
        if cached is not None and cached[0] > now:
            return cached[1]
        key = await self.store.get_by_hash(key_hash)
        self._remember(key_hash, key, now)
        return key

    def _remember(self, key_hash: str, key: VirtualKey | None, now: float) -> None:
        self._cache[key_hash] = (now + (self._ttl if key is not None else self._miss_ttl), key)
        self._cache.move_to_end(key_hash)
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)

    def forget(self, key: VirtualKey) -> None:
        """Drop a cached record (after revoking or changing it here)."""
        self._cache.pop(key.key_hash, None)


def is_master(secret: str, master: str | None) -> bool:
    return master is not None and hmac.compare_digest(secret.encode(), master.encode())
