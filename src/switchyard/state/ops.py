"""The atomic operations behind budgets and rate limits, as data.

Admission asks many questions at once — is this key under its RPM and TPM, is the deployment under the
provider's limit, does every budget the request counts against have room for its estimated cost, and (for
tiered routes) how much of the budget is left — and must answer them atomically, or concurrent requests on
several replicas overshoot together. So the gateway describes the whole admission as one :class:`Admit`
value and a backend applies it in one step: the memory store in plain Python, the Redis store in one Lua
script (one round trip). :class:`Settle` replaces the reservation with the actual cost once it is known.

Money is counted in integer nano-dollars so that every backend adds exactly (Lua numbers are doubles;
integers below 2**53 ≈ $9M are exact).
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["NANO", "Admit", "AdmitResult", "BudgetCheck", "RateCheck", "Settle", "Tier", "to_nano", "to_usd"]

NANO = 1_000_000_000


def to_nano(usd: float) -> int:
    return round(usd * NANO)


def to_usd(nano: int | float) -> float:
    return nano / NANO


class RateCheck(msgspec.Struct, kw_only=True, frozen=True):
    """A sliding-window limit: at most ``limit`` units (requests or tokens) within any ``window_s`` seconds."""

    key: str
    name: str
    """Shown to the client when this limit rejects (``key sk-sy-ab12…: requests per minute``)."""
    limit: int
    amount: int
    window_s: float = 60.0
    group: int = 0
    """Checks with a non-zero group are alternatives: the first group (lowest number) whose checks all pass is
    taken and the others are skipped — a request may go to the first deployment that has headroom."""


class BudgetCheck(msgspec.Struct, kw_only=True, frozen=True):
    key: str
    name: str
    limit: int
    """Nano-dollars."""
    hard: bool = True
    rolling_s: float | None = None
    """Rolling window length; ``None`` for a calendar window (the key names the window) or a total."""
    expires_at: float | None = None
    """Unix time the calendar window ends, so its counters expire by themselves."""
    reserved: int = 0
    """Nano-dollars of the limit that only critical traffic may spend."""


class Tier(msgspec.Struct, kw_only=True, frozen=True):
    min_remaining: float
    """Taken when at least this share of the tightest budget is left."""
    amount: int
    """The reservation (estimated maximum cost) if this tier serves."""


class Admit(msgspec.Struct, kw_only=True, frozen=True):
    member: str
    """Unique per request (the request id): names its reservations so settling and expiry find them."""
    limits: list[RateCheck] = msgspec.field(default_factory=list)
    budgets: list[BudgetCheck] = msgspec.field(default_factory=list)
    amount: int = 0
    tiers: list[Tier] = msgspec.field(default_factory=list)
    """Ordered best first. With tiers, ``amount`` is ignored and the tier's amount is reserved."""
    critical: bool = False
    free_group: int = 0
    """An alternative group with no checks (a deployment without limits) after the limited ones: taken when
    every limited group is blocked."""
    lease_s: float = 900.0
    """A reservation never settled (its replica died) is released after this long."""


FailureKind = Literal["", "rate", "budget", "exhausted"]


class AdmitResult(msgspec.Struct, kw_only=True):
    ok: bool
    kind: FailureKind = ""
    failed: int = -1
    """Index of the rejecting check in ``limits`` (kind ``rate``) or ``budgets`` (``budget``/``exhausted``)."""
    retry_after: float = 0.0
    tier: int = -1
    group: int = 0
    """The alternative group taken (0 when there were none)."""
    reserved: int = 0
    spent: list[int] = msgspec.field(default_factory=list)
    """Per budget, after this admission: settled spend and outstanding reservations."""
    pending: list[int] = msgspec.field(default_factory=list)
    rate_used: list[int] = msgspec.field(default_factory=list)
    """Per limit, units used in the window after this admission (-1 for skipped alternatives)."""
    rate_reset: list[float] = msgspec.field(default_factory=list)
    """Per limit, seconds until the oldest unit in the window expires."""


class Settle(msgspec.Struct, kw_only=True, frozen=True):
    member: str
    budgets: list[BudgetCheck] = msgspec.field(default_factory=list)
    actual: int = 0
    """Nano-dollars actually spent (0 for a failed request), charged to every budget in ``budgets``."""
    release: list[BudgetCheck] = msgspec.field(default_factory=list)
    """Budgets whose reservation is released without a charge (a provider budget reserved for the primary
    deployment when a fallback on another provider answered)."""
    limits: list[RateCheck] = msgspec.field(default_factory=list)
    """Token limits to correct: ``amount`` is the actual token count, replacing the admitted estimate."""
