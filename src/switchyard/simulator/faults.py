"""Fault injection for the provider simulator.

Faults are set per scope: ``"*"`` (every request), a provider (``"openai"``, ``"anthropic"``, ``"gemini"``)
or one model (``"openai:gpt-4o-mini"``); the most specific scope that is set wins. They come from the
simulator's config file, from ``POST /_sim/faults`` at run time, or from :meth:`FaultInjector.set`
in-process. A single request can force an outcome with the ``x-sim-fault`` header (tests use this).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Literal

import msgspec

__all__ = ["Action", "Decision", "FaultInjector", "Faults", "Latency", "Outage"]

Action = Literal[
    "ok", "error", "rate_limit", "hang", "garbled", "cut", "auth", "overloaded", "content_filter", "context_length"
]
ACTIONS: frozenset[str] = frozenset(Action.__args__)  # type: ignore[attr-defined]


class Latency(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """A latency distribution in milliseconds."""

    dist: Literal["fixed", "uniform", "normal", "lognormal"] = "fixed"
    ms: float = 0.0
    """fixed: the value; normal: the mean; lognormal: the median."""
    min_ms: float = 0.0
    max_ms: float = 0.0
    """uniform: the range; normal/lognormal: a cap (0 = none)."""
    stddev_ms: float = 0.0
    sigma: float = 0.5
    """lognormal: shape (0.5 gives p99 ≈ 3.2x the median)."""

    def sample(self, rng: random.Random) -> float:
        if self.dist == "fixed":
            value = self.ms
        elif self.dist == "uniform":
            value = rng.uniform(self.min_ms, self.max_ms)
        elif self.dist == "normal":
            value = rng.gauss(self.ms, self.stddev_ms)
        else:
            value = rng.lognormvariate(0.0, self.sigma) * self.ms
        if self.max_ms and self.dist != "uniform":
            value = min(value, self.max_ms)
        return max(0.0, value) / 1000.0


class Outage(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Every request fails with ``status`` from ``start_s`` for ``duration_s`` seconds after the simulator
    (or, for outages set at run time, the call that set it) started."""

    start_s: float = 0.0
    duration_s: float
    status: int = 503


class Faults(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    latency: Latency = Latency()
    """Before the response (non-streaming) or the first chunk (streaming)."""
    chunk_delay: Latency = Latency()
    """Between stream chunks: a slow stream."""
    error_rate: float = 0.0
    error_status: int = 500
    rate_limit_rate: float = 0.0
    retry_after_s: float = 1.0
    overloaded_rate: float = 0.0
    """Provider-specific overload (Anthropic 529, others 503)."""
    hang_rate: float = 0.0
    hang_s: float = 300.0
    garbled_rate: float = 0.0
    cut_stream_rate: float = 0.0
    cut_after_chunks: int = 2
    content_filter_rate: float = 0.0
    context_window: int | None = None
    """Prompts estimated above this many tokens fail with the provider's context-length error."""
    outages: tuple[Outage, ...] = ()
    accuracy: float | None = None
    """Not a fault but the model's skill, for evaluations: with a value, a last user turn holding arithmetic is
    answered with just its value, right for this share of prompts and wrong for the rest (which ones is fixed by
    model and prompt, so runs repeat). ``None``: the usual echo."""


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    delay_s: float
    faults: Faults
    status: int = 0


class FaultInjector:
    def __init__(self, faults: dict[str, Faults] | None = None, *, seed: int | None = None) -> None:
        self._scopes: dict[str, Faults] = dict(faults or {})
        self._origin: dict[str, float] = dict.fromkeys(self._scopes, time.monotonic())
        self._rng = random.Random(seed)

    def set(self, scope: str, faults: Faults) -> None:
        self._scopes[scope] = faults
        self._origin[scope] = time.monotonic()

    def clear(self, scope: str | None = None) -> None:
        if scope is None:
            self._scopes.clear()
            self._origin.clear()
        else:
            self._scopes.pop(scope, None)
            self._origin.pop(scope, None)

    def snapshot(self) -> dict[str, Faults]:
        return dict(self._scopes)

    def _lookup(self, provider: str, model: str) -> tuple[Faults, float]:
        for scope in (f"{provider}:{model}", provider, "*"):
            faults = self._scopes.get(scope)
            if faults is not None:
                return faults, self._origin[scope]
        return _NO_FAULTS, 0.0

    def decide(self, provider: str, model: str, forced: str | None = None) -> Decision:
        faults, origin = self._lookup(provider, model)
        if faults is _NO_FAULTS and forced is None:
            return _OK
        delay = faults.latency.sample(self._rng)
        if forced in ACTIONS:
            return Decision(forced, delay, faults, faults.error_status)  # type: ignore[arg-type]
        elapsed = time.monotonic() - origin
        for outage in faults.outages:
            if outage.start_s <= elapsed < outage.start_s + outage.duration_s:
                return Decision("error", delay, faults, outage.status)
        roll = self._rng.random()
        for rate, action in (
            (faults.error_rate, "error"),
            (faults.rate_limit_rate, "rate_limit"),
            (faults.overloaded_rate, "overloaded"),
            (faults.hang_rate, "hang"),
            (faults.garbled_rate, "garbled"),
            (faults.content_filter_rate, "content_filter"),
            (faults.cut_stream_rate, "cut"),
        ):
            if roll < rate:
                return Decision(action, delay, faults, faults.error_status)  # type: ignore[arg-type]
            roll -= rate
        return Decision("ok", delay, faults)

    def chunk_delay(self, faults: Faults) -> float:
        return faults.chunk_delay.sample(self._rng)

    async def pause(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)


_NO_FAULTS = Faults()
_OK = Decision("ok", 0.0, _NO_FAULTS)
