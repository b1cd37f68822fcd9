"""The interface every state backend implements.

Two kinds of shared state live here. Small records (msgspec structs) under string keys — circuit breakers —
keep their *logic* in plain functions over a record, applied atomically by :meth:`StateStore.update`: the
memory store applies the function in place (the event loop is the lock), the Redis store inside an optimistic
transaction. Budgets and rate limits are counters that many replicas hit at once, so they get purpose-built
atomic operations instead (:mod:`.ops`): :meth:`StateStore.admit` answers a request's whole admission in one
step — one Lua script, one round trip, on Redis.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TypeVar

import msgspec

from .ops import Admit, AdmitResult, Settle

__all__ = ["R", "StateStore", "T"]

R = TypeVar("R", bound=msgspec.Struct)
T = TypeVar("T")


class StateStore(ABC):
    shared: bool = False
    """Whether other processes see this store (decides whether a local mirror may be trusted)."""

    @abstractmethod
    async def get(self, key: str, type_: type[R]) -> R | None:
        """The record under ``key``, or ``None``."""

    @abstractmethod
    async def update(self, key: str, type_: type[R], fn: Callable[[R | None], tuple[R, T]]) -> T:
        """Atomically replace the record under ``key`` with ``fn(current)[0]`` and return ``fn(current)[1]``.

        ``fn`` must be pure: a backend may call it more than once when a concurrent writer wins a race."""

    @abstractmethod
    async def keys(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix`` (for reports, not the hot path)."""

    @abstractmethod
    async def admit(self, op: Admit) -> AdmitResult:
        """Check and, only if everything passes, record a request's rate-limit units and budget reservation."""

    @abstractmethod
    async def settle(self, op: Settle) -> list[int]:
        """Replace the reservation with the actual cost; returns each budget's settled spend (nano-dollars)."""

    def key(self, *parts: str) -> str:
        """A counter key from its parts (backends may add a namespace and a cluster hash tag)."""
        return ":".join(parts)

    @abstractmethod
    async def aclose(self) -> None:
        """Release connections."""
