"""The admin API under ``/admin/`` (master key only; the app checks it before calling in here).

    GET    /admin/keys                 list virtual keys (never secrets)
    POST   /admin/keys                 create one: {"name", "models"?, "budgets"?, "limits"?, "team"?, "user"?,
                                       "features"?, "metadata"?} → the record plus its secret, shown once
    DELETE /admin/keys/{id}            revoke
    GET    /admin/usage?by=feature&since=2026-11-01&until=...   usage report (also ``switchyard usage``)
    GET    /admin/budgets              spend against every configured budget
    GET    /admin/state                state store, ledger, alert and cache counters
    POST   /admin/cache/invalidate     {"namespace": "key:<id>"}: retire a namespace's cached answers
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import msgspec
import orjson

from ..config import BudgetConfig
from ..errors import DatabaseUnavailableError, InvalidRequestError, RequestError
from ..gateway import Gateway
from ..governance.keys import KeyStoreLike, new_key
from ..governance.principal import Principal
from ..governance.records import BudgetSpec, KeyLimits
from ..governance.timespec import parse_time
from .cache_api import invalidate

__all__ = ["AdminAPI"]

UsageReport = Callable[[str, float | None, float | None, str], Awaitable[list[Any]]]


class _NotFound(RequestError):
    status_code = 404
    error_type = "not_found_error"


class _KeyRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    models: list[str] = msgspec.field(default_factory=list)
    budgets: list[BudgetSpec] = msgspec.field(default_factory=list)
    limits: KeyLimits = msgspec.field(default_factory=KeyLimits)
    team: str | None = None
    user: str | None = None
    features: list[str] = msgspec.field(default_factory=list)
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


class AdminAPI:
    def __init__(
        self,
        gateway: Gateway,
        keys: KeyStoreLike,
        usage_report: UsageReport,
        *,
        extra_state: Callable[[], dict[str, Any]] | None = None,
        forget: Callable[[Any], None] | None = None,
    ) -> None:
        self.gateway = gateway
        self.keys = keys
        self.usage_report = usage_report
        self.extra_state = extra_state
        self.forget = forget

    async def __call__(self, method: str, path: str, query: bytes, body: bytes) -> tuple[int, bytes]:
        parts = [p for p in path.split("/") if p][1:]
        params = {k: v[-1] for k, v in parse_qs(query.decode("latin-1")).items()}
        match method, parts:
            case "GET", ["keys"]:
                listed = await self.keys.list(include_revoked=params.get("revoked") == "true")
                return 200, orjson.dumps({"data": [msgspec.to_builtins(k) for k in listed]})
            case "POST", ["keys"]:
                return 201, await self._create(body)
            case "DELETE", ["keys", key_id]:
                key = await self.keys.get(key_id)
                if key is None or not await self.keys.revoke(key_id):
                    raise _NotFound(f"no active key '{key_id}'")
                if self.forget is not None:
                    self.forget(key)
                return 200, orjson.dumps({"id": key_id, "revoked": True})
            case "GET", ["usage"]:
                return 200, await self._usage(params)
            case "GET", ["budgets"]:
                return 200, orjson.dumps({"data": await self._budgets()})
            case "GET", ["state"]:
                state: dict[str, Any] = {"state_store_unavailable": self.gateway.governor.unavailable}
                state["cache"] = self.gateway.cache.stats() if self.gateway.cache is not None else None
                if self.extra_state is not None:
                    state.update(self.extra_state())
                return 200, orjson.dumps(state)
            case "POST", ["cache", "invalidate"]:
                return await invalidate(self.gateway, body)
        raise _NotFound(f"no admin endpoint {method} {path}")

    async def _create(self, body: bytes) -> bytes:
        try:
            spec = msgspec.json.decode(body, type=_KeyRequest)
        except msgspec.DecodeError as exc:
            raise InvalidRequestError(f"invalid key request: {exc}") from exc
        unknown = [m for m in spec.models if m not in self.gateway.model_names]
        if unknown:
            raise InvalidRequestError(f"unknown model or route: {', '.join(unknown)}", param="models")
        secret, key = new_key(
            spec.name, models=spec.models, budgets=spec.budgets, limits=spec.limits, team=spec.team,
            user=spec.user, features=spec.features, metadata=spec.metadata,
        )
        await self.keys.create(key)
        return orjson.dumps({**msgspec.to_builtins(key), "secret": secret})

    async def _usage(self, params: dict[str, str]) -> bytes:
        ledger = self.gateway.ledger
        if ledger is not None:
            # What this replica still holds in its buffer belongs in the report; a down database is reported below.
            with contextlib.suppress(DatabaseUnavailableError):
                await ledger.flush()
        by = params.get("by", "day")
        tz = self.gateway.config.ledger.timezone
        since = parse_time(params["since"], tz=tz) if "since" in params else None
        until = parse_time(params["until"], tz=tz) if "until" in params else None
        rows = await self.usage_report(by, since, until, tz)
        return orjson.dumps({"by": by, "data": [msgspec.to_builtins(r) for r in rows]})

    async def _budgets(self) -> list[dict[str, Any]]:
        governor = self.gateway.governor
        report: list[dict[str, Any]] = []
        for budget in self.gateway.config.governance.budgets:
            if budget.name is None and budget.scope != "global":
                continue  # one per member: listed in usage reports, not enumerable here
            statuses = await governor.budget_status(_principal_for(budget), _route_plan(self.gateway, budget))
            report.extend(s for s in statuses if str(s["budget"]).startswith(_label(budget)))
        return report


def _label(budget: BudgetConfig) -> str:
    return "global" if budget.scope == "global" else f"{budget.scope} '{budget.name}'"


def _principal_for(budget: BudgetConfig) -> Principal:
    name = budget.name
    match budget.scope:
        case "team":
            return Principal(team=name)
        case "user":
            return Principal(user=name)
        case "feature":
            return Principal(features=(name,) if name else ())
    return Principal()


def _route_plan(gateway: Gateway, budget: BudgetConfig) -> Any:
    from ..types import ChatRequest

    if budget.scope == "route" and budget.name:
        return gateway.router.plan(ChatRequest(model=budget.name, messages=[]))
    if budget.scope == "provider" and budget.name:
        for name, deployment in gateway.deployments.items():
            if deployment.provider == budget.name:
                return gateway.router.plan(ChatRequest(model=name, messages=[]))
    first = next(iter(gateway.deployments))
    return gateway.router.plan(ChatRequest(model=first, messages=[]))
