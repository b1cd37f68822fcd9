"""Circuit breakers, one per deployment, with their state in a :class:`~switchyard.state.StateStore`.

closed ── N consecutive failures, or an error rate over the window ──▶ open ── cooldown ──▶ half-open
half-open admits one probe: success ──▶ closed; failure ──▶ open again. A probe that never reports back (its
task was cancelled) loses its lease after ``probe_timeout_s`` and the next request becomes the probe.

The transitions are pure functions over a :class:`BreakerRecord`, applied through ``StateStore.update``, so a
shared store (Redis) gives every replica the same breaker without any change here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final, Literal

import msgspec

from ..config import BreakerPolicy
from ..errors import UpstreamError
from ..state import StateStore
from ..state.memory import MemoryStore
from .policy import classify

__all__ = ["Admission", "Breaker", "BreakerPolicy", "BreakerRecord", "BreakerState"]

BreakerState = Literal["closed", "open", "half_open"]
Admission = Literal["closed", "probe", "open"]
"""``closed``: call normally; ``probe``: call, as the half-open probe; ``open``: skip this deployment."""

KEY_PREFIX: Final = "breaker:"


class BreakerRecord(msgspec.Struct, kw_only=True, frozen=True):
    state: BreakerState = "closed"
    consecutive: int = 0
    window_start: float = 0.0
    window_ok: int = 0
    window_failed: int = 0
    opened_at: float = 0.0
    probe_until: float = 0.0
    """While a probe is out (half-open), other requests are turned away until this time."""
    last_error: str = ""


_CLOSED: Final = BreakerRecord()


def _admit(record: BreakerRecord | None, now: float, policy: BreakerPolicy) -> tuple[BreakerRecord, Admission]:
    record = record or _CLOSED
    if record.state == "closed":
        return record, "closed"
    if record.state == "open" and now - record.opened_at < policy.cooldown_s:
        return record, "open"
    if record.state == "half_open" and now < record.probe_until:
        return record, "open"
    return msgspec.structs.replace(record, state="half_open", probe_until=now + policy.probe_timeout_s), "probe"


def _open(record: BreakerRecord, now: float, error: str) -> BreakerRecord:
    return msgspec.structs.replace(
        record, state="open", opened_at=now, probe_until=0.0, consecutive=0, window_start=now, window_ok=0,
        window_failed=0, last_error=error,
    )


def _record(
    record: BreakerRecord | None, now: float, policy: BreakerPolicy, error: str | None, force_open: bool
) -> tuple[BreakerRecord, BreakerState]:
    record = record or _CLOSED
    if error is None:
        if record.state == "half_open":
            return _CLOSED, "closed"
        if record.state == "open":
            # A call admitted before the breaker opened finished late: it says nothing about now.
            return record, "open"
    elif force_open or record.state == "half_open":
        updated = _open(record, now, error)
        return updated, updated.state
    elif record.state == "open":
        return record, "open"
    if now - record.window_start >= policy.window_s:
        record = msgspec.structs.replace(record, window_start=now, window_ok=0, window_failed=0)
    if error is None:
        updated = msgspec.structs.replace(record, consecutive=0, window_ok=record.window_ok + 1)
        return updated, "closed"
    updated = msgspec.structs.replace(
        record, consecutive=record.consecutive + 1, window_failed=record.window_failed + 1, last_error=error
    )
    total = updated.window_ok + updated.window_failed
    if updated.consecutive >= policy.failures or (
        total >= policy.min_requests and updated.window_failed / total >= policy.error_rate
    ):
        updated = _open(updated, now, error)
    return updated, updated.state


def _release(record: BreakerRecord | None) -> tuple[BreakerRecord, None]:
    record = record or _CLOSED
    if record.state != "half_open":
        return record, None
    return msgspec.structs.replace(record, probe_until=0.0), None


class Breaker:
    """The breakers of every deployment of one gateway. ``clock`` is injectable so tests need not sleep."""

    def __init__(
        self, store: StateStore, policy: BreakerPolicy, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.policy = policy
        self.now = clock
        # With the local store the common case (closed) needs no await at all: the hot path stays a dict lookup.
        self._local = store if isinstance(store, MemoryStore) else None

    async def admit(self, deployment: str) -> Admission:
        key = KEY_PREFIX + deployment
        if self._local is not None:
            record = self._local.peek(key, BreakerRecord)
            if record is None or record.state == "closed":
                return "closed"
        policy, now = self.policy, self.now()
        return await self.store.update(key, BreakerRecord, lambda r: _admit(r, now, policy))

    async def success(self, deployment: str) -> BreakerState:
        policy, now = self.policy, self.now()
        return await self.store.update(
            KEY_PREFIX + deployment, BreakerRecord, lambda r: _record(r, now, policy, None, False)
        )

    async def failure(self, deployment: str, error: str, *, force_open: bool = False) -> BreakerState:
        """Count a failure; ``force_open`` opens at once (a rejected credential will not fix itself)."""
        policy, now = self.policy, self.now()
        return await self.store.update(
            KEY_PREFIX + deployment, BreakerRecord, lambda r: _record(r, now, policy, error, force_open)
        )

    async def judge(self, deployment: str, exc: UpstreamError, *, context: str = "") -> None:
        """The breaker's verdict on a failed call, by error class: the deployment's own trouble (5xx, timeout) is
        a failure; a rejected key or missing model opens at once, since it will not fix itself by the next call;
        a 429 gives no verdict; any other error is an answer about the request, so the deployment is up."""
        kind = classify(exc)
        error = f"{type(exc).__name__}{context}: {exc.message}"
        if kind in ("server_error", "timeout", "auth", "not_found"):
            await self.failure(deployment, error, force_open=kind in ("auth", "not_found"))
        elif kind == "rate_limit":
            await self.release(deployment)
        else:
            await self.success(deployment)

    async def release(self, deployment: str) -> None:
        """End a probe that gave no verdict (a 429, a cancelled call): the next request may probe at once."""
        record = await self.store.get(KEY_PREFIX + deployment, BreakerRecord)
        if record is not None and record.state == "half_open":
            await self.store.update(KEY_PREFIX + deployment, BreakerRecord, _release)

    async def snapshot(self, deployment: str) -> BreakerRecord:
        record = await self.store.get(KEY_PREFIX + deployment, BreakerRecord)
        if record is not None and record.state == "open" and self.now() - record.opened_at >= self.policy.cooldown_s:
            # Due for a probe: report it as the next request will find it.
            return msgspec.structs.replace(record, state="half_open")
        return record or _CLOSED
