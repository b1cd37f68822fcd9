"""Budgets and sliding-window rate limits in this process's memory: the reference semantics of
:class:`~switchyard.state.ops.Admit` and :class:`~switchyard.state.ops.Settle`.

``lua/admit.lua`` implements the same steps for Redis; one test suite runs against both so they cannot drift.
Admission, in order: expire stale reservations → pick the tier from the tightest hard budget → check every hard
budget has room for the reservation (critical traffic may use the reserved share) → check rate limits (fixed
ones, then the first alternative group with headroom) → only if everything passed, record it all.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

from .ops import Admit, AdmitResult, BudgetCheck, RateCheck, Settle

__all__ = ["Counters"]

_BUCKETS = 60
"""Rolling budgets keep this many buckets per window: spend leaves the window in 1/60 steps."""


@dataclass(slots=True)
class _RateLog:
    entries: OrderedDict[str, tuple[float, int]] = field(default_factory=OrderedDict)
    total: int = 0

    def prune(self, horizon: float) -> None:
        while self.entries:
            member = next(iter(self.entries))
            ts, amount = self.entries[member]
            if ts > horizon:
                return
            del self.entries[member]
            self.total -= amount

    def wait(self, check: RateCheck, now: float) -> float:
        """Seconds until enough units leave the window for ``check.amount`` more to fit."""
        excess = self.total + check.amount - check.limit
        if check.amount > check.limit:
            return check.window_s
        for ts, amount in self.entries.values():
            excess -= amount
            if excess <= 0:
                return max(0.0, ts + check.window_s - now)
        return check.window_s

    def oldest(self, check: RateCheck, now: float) -> float:
        for ts, _ in self.entries.values():
            return max(0.0, ts + check.window_s - now)
        return 0.0


@dataclass(slots=True)
class _Budget:
    spent: int = 0
    buckets: dict[int, int] = field(default_factory=dict)
    reservations: dict[str, tuple[float, int]] = field(default_factory=dict)
    pending: int = 0
    expires_at: float | None = None

    def expire(self, now: float) -> None:
        stale = [m for m, (until, _) in self.reservations.items() if until <= now]
        for member in stale:
            self.pending -= self.reservations.pop(member)[1]

    def current(self, check: BudgetCheck, now: float) -> int:
        if check.rolling_s is None:
            return self.spent
        width = check.rolling_s / _BUCKETS
        first = math.floor(now / width) - _BUCKETS + 1
        for index in [i for i in self.buckets if i < first]:
            del self.buckets[index]
        return sum(self.buckets.values())

    def add(self, check: BudgetCheck, now: float, amount: int) -> None:
        if check.rolling_s is None:
            self.spent += amount
        else:
            index = math.floor(now / (check.rolling_s / _BUCKETS))
            self.buckets[index] = self.buckets.get(index, 0) + amount


class Counters:
    def __init__(self) -> None:
        self._rates: dict[str, _RateLog] = {}
        self._budgets: dict[str, _Budget] = {}

    def _budget(self, check: BudgetCheck, now: float) -> _Budget:
        budget = self._budgets.get(check.key)
        if budget is None or (budget.expires_at is not None and budget.expires_at <= now):
            budget = self._budgets[check.key] = _Budget(expires_at=check.expires_at)
        return budget

    def _rate(self, check: RateCheck, now: float) -> _RateLog:
        log = self._rates.get(check.key)
        if log is None:
            log = self._rates[check.key] = _RateLog()
        log.prune(now - check.window_s)
        return log

    def admit(self, op: Admit, now: float) -> AdmitResult:
        budgets = [self._budget(b, now) for b in op.budgets]
        spent: list[int] = []
        for check, budget in zip(op.budgets, budgets, strict=True):
            budget.expire(now)
            spent.append(budget.current(check, now))

        amount, tier = op.amount, -1
        if op.tiers:
            tightest, share = -1, 1.0
            for i, (check, budget) in enumerate(zip(op.budgets, budgets, strict=True)):
                if check.hard and check.limit > 0:
                    left = (check.limit - spent[i] - budget.pending) / check.limit
                    if left < share:
                        tightest, share = i, left
            if op.critical:
                tier = 0
            else:
                tier = next((i for i, t in enumerate(op.tiers) if share > 0 and share >= t.min_remaining), -1)
            if tier < 0:
                return AdmitResult(ok=False, kind="exhausted", failed=max(tightest, 0), retry_after=_resets(op, now))
            # A tier whose reservation does not fit degrades to the next, cheaper one rather than rejecting.
            while tier + 1 < len(op.tiers) and not self._fits(op, budgets, spent, op.tiers[tier].amount):
                tier += 1
            amount = op.tiers[tier].amount

        for i, (check, budget) in enumerate(zip(op.budgets, budgets, strict=True)):
            cap = check.limit - (0 if op.critical else check.reserved)
            if check.hard and spent[i] + budget.pending + amount > cap:
                return AdmitResult(ok=False, kind="budget", failed=i, retry_after=_reset(check, now), tier=tier)

        logs = [self._rate(check, now) for check in op.limits]
        chosen, failed, wait = self._pick_group(op.limits, logs, now, op.free_group)
        if failed >= 0:
            return AdmitResult(ok=False, kind="rate", failed=failed, retry_after=wait, tier=tier)

        for budget in budgets:
            budget.reservations[op.member] = (now + op.lease_s, amount)
            budget.pending += amount
        used: list[int] = []
        reset: list[float] = []
        for limit, log in zip(op.limits, logs, strict=True):
            if limit.group not in (0, chosen):
                used.append(-1)
                reset.append(0.0)
                continue
            log.entries[op.member] = (now, limit.amount)
            log.total += limit.amount
            used.append(log.total)
            reset.append(log.oldest(limit, now))
        return AdmitResult(
            ok=True, tier=tier, group=chosen, reserved=amount, spent=spent,
            pending=[b.pending for b in budgets], rate_used=used, rate_reset=reset,
        )

    @staticmethod
    def _fits(op: Admit, budgets: list[_Budget], spent: list[int], amount: int) -> bool:
        return all(
            not check.hard or spent[i] + budget.pending + amount <= check.limit - (0 if op.critical else check.reserved)
            for i, (check, budget) in enumerate(zip(op.budgets, budgets, strict=True))
        )

    @staticmethod
    def _pick_group(
        limits: list[RateCheck], logs: list[_RateLog], now: float, free: int
    ) -> tuple[int, int, float]:
        """``(group taken, index of the rejecting check or -1, seconds to wait)``."""
        groups = sorted({c.group for c in limits if c.group})
        blocked: dict[int, tuple[int, float]] = {}
        for i, (check, log) in enumerate(zip(limits, logs, strict=True)):
            if log.total + check.amount > check.limit:
                first, wait = blocked.get(check.group, (i, 0.0))
                blocked[check.group] = (first, max(wait, log.wait(check, now)))
        if 0 in blocked:
            return 0, *blocked[0]
        for group in groups:
            if group not in blocked:
                return group, -1, 0.0
        if free:
            return free, -1, 0.0
        if not groups:
            return 0, -1, 0.0
        best = min(groups, key=lambda g: blocked[g][1])
        return best, *blocked[best]

    def settle(self, op: Settle, now: float) -> list[int]:
        spent: list[int] = []
        for check in op.budgets:
            budget = self._budget(check, now)
            held = budget.reservations.pop(op.member, None)
            if held is not None:
                budget.pending -= held[1]
            budget.add(check, now, op.actual)
            spent.append(budget.current(check, now))
        for check in op.release:
            budget = self._budget(check, now)
            held = budget.reservations.pop(op.member, None)
            if held is not None:
                budget.pending -= held[1]
        for limit in op.limits:
            log = self._rates.get(limit.key)
            entry = log.entries.get(op.member) if log is not None else None
            if log is not None and entry is not None:
                log.total += limit.amount - entry[1]
                log.entries[op.member] = (entry[0], limit.amount)
        return spent


def _reset(check: BudgetCheck, now: float) -> float:
    if check.expires_at is not None:
        return max(0.0, check.expires_at - now)
    if check.rolling_s is not None:
        return check.rolling_s / _BUCKETS
    return 0.0


def _resets(op: Admit, now: float) -> float:
    waits = [_reset(b, now) for b in op.budgets if b.hard]
    return min(waits) if waits else 0.0
