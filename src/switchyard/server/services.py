"""What the server adds around a :class:`Gateway`: the usage database (ledger and virtual keys), the admin API
and, once started, the alert manager — opened at start-up and closed, ledger flushed, at shutdown."""

from __future__ import annotations

from typing import Any

from ..config import Config
from ..gateway import Gateway
from ..governance.ledger import Database, KeyStore, Ledger, open_database
from .admin import AdminAPI
from .app import GatewayApp

__all__ = ["Services", "build_app"]


class Services:
    def __init__(self, gateway: Gateway) -> None:
        config = gateway.config.ledger
        self.gateway = gateway
        self.db: Database | None = None
        self.keys: KeyStore | None = None
        self.admin: AdminAPI | None = None
        if not config.enabled:
            return
        self.db = open_database(config.url)
        self.keys = KeyStore(self.db)
        gateway.ledger = Ledger(
            self.db, batch_size=config.batch_size, flush_interval_s=config.flush_interval_s,
            max_buffer=config.max_buffer,
        )
        self.admin = AdminAPI(gateway, self.keys, self.db.usage_report, extra_state=self.state)

    def state(self) -> dict[str, Any]:
        ledger = self.gateway.ledger
        return {"ledger": ledger.stats() if ledger is not None else None}

    async def start(self) -> None:
        if self.gateway.ledger is not None:
            await self.gateway.ledger.start()

    async def aclose(self) -> None:
        """After :meth:`Gateway.aclose` (which flushes the ledger): release the database."""
        if self.db is not None:
            await self.db.aclose()


def build_app(config: Config) -> GatewayApp:
    """The server for ``config``: gateway, ledger, key store and admin API (``switchyard serve``)."""
    gateway = Gateway(config)
    services = Services(gateway)
    app = GatewayApp(gateway, keys=services.keys, admin=services.admin, services=services)
    if services.admin is not None and app.auth.keyring is not None:
        services.admin.forget = app.auth.keyring.forget
    return app
