"""Records the governance layer persists: one row per request in the usage ledger, one per virtual key.

Both are plain msgspec structs so that every store (SQLite, PostgreSQL, JSON for the admin API) encodes them
the same way.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["BudgetSpec", "CacheOutcome", "KeyLimits", "UsageRecord", "VirtualKey"]

CacheOutcome = Literal["hit", "semantic-hit", "miss", "skip"]


class UsageRecord(msgspec.Struct, kw_only=True, frozen=True):
    """What one request did and cost. ``request_id`` is unique: a store writes each at most once."""

    ts: float
    """Unix time the request arrived."""
    request_id: str
    key_id: str | None = None
    user: str | None = None
    team: str | None = None
    features: list[str] = msgspec.field(default_factory=list)
    route: str | None = None
    provider: str | None = None
    deployment: str | None = None
    model: str | None = None
    """The upstream model id that answered."""
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float | None = None
    """``None`` when the price is unknown (never reported as 0)."""
    latency_ms: float = 0.0
    status: int = 200
    error: str | None = None
    """Error class name for failed requests."""
    cache: CacheOutcome | None = None
    saved_usd: float | None = None
    """Cache hits: what the cached answer would have cost to make again (``cost_usd`` is 0)."""
    attempts: int = 0
    tier: str | None = None
    """Budget tier that served the request, when the route has tiers."""
    stream: bool = False


class BudgetSpec(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A spending limit. ``window``: ``daily`` / ``monthly`` calendar windows in ``timezone``, or ``rolling`` over
    ``rolling_s`` seconds, or ``total`` (never resets)."""

    limit_usd: float
    window: Literal["daily", "monthly", "rolling", "total"] = "monthly"
    rolling_s: float = 86_400.0
    hard: bool = True
    """Hard: requests that would exceed it are rejected. Soft: only alerts."""
    alert_at: float = 0.8
    """Share of the limit at which a spend alert fires."""
    reserved_share: float = 0.0
    """Share of the limit only ``critical`` traffic may spend (e.g. 0.05)."""


class KeyLimits(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    rpm: int | None = None
    tpm: int | None = None


class VirtualKey(msgspec.Struct, kw_only=True, frozen=True):
    """A client credential issued by the gateway. Only the SHA-256 of the secret is stored."""

    id: str
    name: str
    key_hash: str
    """Hex SHA-256 of the full secret."""
    display: str
    """A recognisable, non-secret fragment (``sk-sy-ab12…wxyz``) for listings."""
    created_at: float
    revoked_at: float | None = None
    models: list[str] = msgspec.field(default_factory=list)
    """Model or route names this key may use; empty means all."""
    budgets: list[BudgetSpec] = msgspec.field(default_factory=list)
    limits: KeyLimits = msgspec.field(default_factory=KeyLimits)
    team: str | None = None
    user: str | None = None
    features: list[str] = msgspec.field(default_factory=list)
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
