"""Circuit breakers, one per deployment, with their state in a :class:`~switchyard.state.StateStore`.

closed ── N consecutive failures, or an error rate over the window ──▶ open ── cooldown ──▶ half-open
half-open admits one probe: success ──▶ closed; failure ──▶ open again. A probe that never reports back (its
task was cancelled) loses its lease after ``probe_timeout_s`` and the next request becomes the probe.

The transitions are pure functions over a :class:`BreakerRecord`, applied through ``StateStore.update``, so a
shared store (Redis) gives every replica the same breaker without any change here.

With a shared store the common case must not cost a round trip: each replica mirrors the records it read for
``sync_s`` (1 s), so a closed breaker admits with no I/O, and successes on a clean breaker are counted locally
and added to the shared record in one write per ``sync_s``. Failures and every transition out of ``closed`` go
to the store at once, so one replica's view reaches the others within ``sync_s``. A store that cannot be
reached leaves each replica to its own mirror (fail open): a broken Redis never fails a request by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import Counter
from collections.abc import Callable
from typing import Final, Literal, TypeVar

import msgspec

from ..config import BreakerPolicy
from ..errors import StateUnavailableError, UpstreamError
from ..state import StateStore
from ..state.memory import MemoryStore
from .policy import classify

__all__ = ["Admission", "Breaker", "BreakerPolicy", "BreakerRecord", "BreakerState"]

BreakerState = Literal["closed", "open", "half_open"]
Admission = Literal["closed", "probe", "open"]
"""``closed``: call normally; ``probe``: call, as the half-open probe; ``open``: skip this deployment."""


_T = TypeVar("_T")


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


def _successes(
    record: BreakerRecord | None, now: float, policy: BreakerPolicy, count: int
) -> tuple[BreakerRecord, None]:
    record = record or _CLOSED
    if record.state != "closed":
        return record, None
    if now - record.window_start >= policy.window_s:
        record = msgspec.structs.replace(record, window_start=now, window_ok=0, window_failed=0)
    return msgspec.structs.replace(record, consecutive=0, window_ok=record.window_ok + count), None


def _release(record: BreakerRecord | None) -> tuple[BreakerRecord, None]:
    record = record or _CLOSED
    if record.state != "half_open":
        return record, None
    return msgspec.structs.replace(record, probe_until=0.0), None


class Breaker:
    """The breakers of every deployment of one gateway. ``clock`` is injectable so tests need not sleep."""

    def __init__(
        self,
        store: StateStore,
        policy: BreakerPolicy,
        *,
        clock: Callable[[], float] = time.time,
        sync_s: float = 1.0,
    ) -> None:
        # Wall time, not monotonic: a shared record's timestamps must mean the same on every replica.
        self.store = store
        self.policy = policy
        self.now = clock
        self.sync_s = sync_s
        # With the local store the common case (closed) needs no await at all: the hot path stays a dict lookup.
        self._local = store if isinstance(store, MemoryStore) else None
        self._mirror: dict[str, tuple[float, BreakerRecord]] = {}
        self._keys: dict[str, str] = {}
        self._ok: Counter[str] = Counter()
        self._flushed = clock()
        self._flush: asyncio.Task[None] | None = None
        self.listeners: list[Callable[[str, BreakerState], None]] = []
        """Called with ``(deployment, new state)`` when this replica sees a breaker change state (alerts)."""

    async def _apply(self, deployment: str, fn: Callable[[BreakerRecord | None], tuple[BreakerRecord, _T]]) -> _T:
        key = self.store.key("breaker", deployment)

        def remembered(record: BreakerRecord | None) -> tuple[BreakerRecord, tuple[BreakerRecord, _T]]:
            updated, result = fn(record)
            return updated, (updated, result)

        before = self._mirror.get(deployment, (0.0, _CLOSED))[1].state
        try:
            updated, result = await self.store.update(key, BreakerRecord, remembered)
        except StateUnavailableError:
            # The shared store is down: judge from this replica's own view until it is back.
            updated, result = fn(self._mirror.get(deployment, (0.0, _CLOSED))[1])
        self._mirror[deployment] = (self.now(), updated)
        if updated.state != before:
            for listener in self.listeners:
                listener(deployment, updated.state)
        return result

    async def admit(self, deployment: str) -> Admission:
        key = self.store.key("breaker", deployment)
        if self._local is not None:
            record = self._local.peek(key, BreakerRecord)
            if record is None or record.state == "closed":
                return "closed"
        else:
            mirrored = await self._view(deployment)
            if mirrored.state == "closed":
                return "closed"
        policy, now = self.policy, self.now()
        return await self._apply(deployment, lambda r: _admit(r, now, policy))

    def available(self, deployment: str) -> bool:
        """Whether :meth:`admit` would let a call through, judged without I/O: from the local store, or this
        replica's mirror of the shared one (at most ``sync_s`` old for deployments it calls). Routing filters use
        it, so that planning never waits on the store; ``admit`` still decides each call."""
        if self._local is not None:
            key = self._keys.get(deployment)
            if key is None:
                key = self._keys[deployment] = self.store.key("breaker", deployment)
            record = self._local.peek(key, BreakerRecord)
        else:
            record = self._mirror.get(deployment, (0.0, _CLOSED))[1]
        if record is None or record.state == "closed":
            return True
        return _admit(record, self.now(), self.policy)[1] != "open"

    async def _view(self, deployment: str) -> BreakerRecord:
        seen, record = self._mirror.get(deployment, (0.0, _CLOSED))
        if self.now() - seen < self.sync_s:
            return record
        with contextlib.suppress(StateUnavailableError):
            record = await self.store.get(self.store.key("breaker", deployment), BreakerRecord) or _CLOSED
        self._mirror[deployment] = (self.now(), record)
        return record

    async def success(self, deployment: str) -> BreakerState:
        if self._local is None:
            _, record = self._mirror.get(deployment, (0.0, _CLOSED))
            if record.state == "closed" and record.consecutive == 0:
                self._ok[deployment] += 1
                self._schedule_flush()
                return "closed"
        policy, now = self.policy, self.now()
        return await self._apply(deployment, lambda r: _record(r, now, policy, None, False))

    def _schedule_flush(self) -> None:
        now = self.now()
        if now - self._flushed >= self.sync_s and (self._flush is None or self._flush.done()):
            self._flushed = now
            self._flush = asyncio.ensure_future(self.flush())

    async def flush(self) -> None:
        """Add the successes counted locally to the shared records (a few writes per second, off the hot path)."""
        pending, self._ok = self._ok, Counter()
        policy, now = self.policy, self.now()
        for deployment, count in pending.items():
            await self._apply(deployment, functools.partial(_successes, now=now, policy=policy, count=count))

    async def failure(self, deployment: str, error: str, *, force_open: bool = False) -> BreakerState:
        """Count a failure; ``force_open`` opens at once (a rejected credential will not fix itself)."""
        policy, now = self.policy, self.now()
        return await self._apply(deployment, lambda r: _record(r, now, policy, error, force_open))

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
        try:
            record = await self.store.get(self.store.key("breaker", deployment), BreakerRecord)
        except StateUnavailableError:
            record = self._mirror.get(deployment, (0.0, None))[1]
        if record is not None and record.state == "half_open":
            await self._apply(deployment, _release)

    async def snapshot(self, deployment: str) -> BreakerRecord:
        try:
            record = await self.store.get(self.store.key("breaker", deployment), BreakerRecord)
        except StateUnavailableError:
            record = self._mirror.get(deployment, (0.0, None))[1]
        if record is not None and record.state == "open" and self.now() - record.opened_at >= self.policy.cooldown_s:
            # Due for a probe: report it as the next request will find it.
            return msgspec.structs.replace(record, state="half_open")
        return record or _CLOSED
