"""The interface every state backend implements.

State is a set of small records (msgspec structs) under string keys. Components that share state across
replicas — circuit breakers now, budgets and rate limits later — keep their *logic* in plain functions over a
record and ask the store to apply them atomically with :meth:`StateStore.update`. A backend therefore knows
nothing about breakers or budgets: the memory store applies the function in place (the event loop is the lock),
a Redis store runs it inside an optimistic transaction and encodes records with msgspec.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TypeVar

import msgspec

__all__ = ["R", "StateStore", "T"]

R = TypeVar("R", bound=msgspec.Struct)
T = TypeVar("T")


class StateStore(ABC):
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
    async def aclose(self) -> None:
        """Release connections."""
