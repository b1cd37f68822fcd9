"""Who is calling: the master key, a virtual key, or nobody (an open gateway).

``auth: auto`` (the default) requires a key as soon as the operator set a master key or any virtual key
exists; otherwise the gateway runs open and says so loudly at start, because an open gateway in front of paid
provider keys is a bill waiting to happen.
"""

from __future__ import annotations

import logging

from ..config import GovernanceConfig
from ..errors import ForbiddenError, UnauthorizedError
from .keys import KeyRing, KeyStoreLike, is_master
from .records import VirtualKey

__all__ = ["Authenticator", "Caller"]

logger = logging.getLogger("switchyard.governance")


class Caller:
    __slots__ = ("key", "master")

    def __init__(self, key: VirtualKey | None, master: bool) -> None:
        self.key = key
        self.master = master


OPEN = Caller(None, False)


class Authenticator:
    def __init__(self, config: GovernanceConfig, keys: KeyStoreLike | None) -> None:
        self.mode = config.auth
        self._master = config.master_key.get() if config.master_key is not None else None
        self.keyring = KeyRing(keys) if keys is not None else None
        self.required = self.mode == "required" or (self.mode == "auto" and self._master is not None)

    async def start(self) -> None:
        """Decide whether keys are required (``auto`` looks for existing keys) and say so."""
        if self.mode == "auto" and not self.required and self.keyring is not None:
            self.required = bool(await self.keyring.store.list())
        if self.required and self._master is None and self.keyring is None:
            logger.error("auth is required but neither a master key nor a key store is configured: every call fails")
        if not self.required:
            logger.warning(
                "*** switchyard is running OPEN: no API key is required, anyone who can reach it spends your "
                "provider credits. Set governance.master_key and create virtual keys (switchyard keys create). ***"
            )

    async def caller(self, secret: str | None) -> Caller:
        if secret is None:
            if self.required:
                raise UnauthorizedError(
                    "missing API key: send 'Authorization: Bearer <key>' (or 'x-api-key: <key>')"
                )
            return OPEN
        if is_master(secret, self._master):
            return Caller(None, True)
        if self.keyring is None:
            if self.required:
                raise UnauthorizedError("invalid API key")
            return OPEN
        if not self.required:
            # Open gateways accept any key, so that clients that always send one (the SDKs do) keep working: an
            # unknown one is the common case here, looked up without raising.
            found = await self.keyring.find(secret)
            if found is None or found.revoked_at is not None:
                return OPEN
        key = await self.keyring.authenticate(secret)
        if not self.required:
            self.required = True
            logger.info("a virtual key is in use: API keys are now required")
        return Caller(key, False)

    async def admin(self, secret: str | None) -> None:
        """Admin endpoints need the master key, always (an open gateway has no admin API)."""
        if self._master is None:
            raise ForbiddenError("the admin API is disabled: set governance.master_key", code="admin_disabled")
        if secret is None or not is_master(secret, self._master):
            raise UnauthorizedError("the admin API requires the master key")
