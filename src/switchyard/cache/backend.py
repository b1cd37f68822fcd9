"""Where entries live: the backend interface, the key scheme both backends share, and the in-memory backend.

A lookup is one call, :meth:`CacheBackend.fetch`, returning the entry and its namespace's current versions
together (on Redis: one ``MGET``). Keys follow the state store's convention, ``<namespace>:{<hash tag>}:...``,
with the tenant in the hash tag (``{sy:<tenant digest>}``): a tenant's entries and version counters share one
Redis Cluster slot, so that ``MGET`` is legal on a cluster, while tenants spread across slots.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from .entry import Versions
from .key import digest
from .policy import Namespace

__all__ = ["Address", "CacheBackend", "KeyScheme", "MemoryBackend"]


@dataclass(frozen=True, slots=True)
class Address:
    """One entry's key and the version counters of the namespace it belongs to (base, then narrowed)."""

    entry: str
    versions: tuple[str, ...]


class CacheBackend(Protocol):
    compress: bool
    """Whether entries are worth compressing (bytes on a network and in a shared server: yes)."""

    async def fetch(self, address: Address) -> tuple[bytes | None, Versions]: ...
    async def put_many(self, items: list[tuple[str, bytes, float]]) -> None: ...
    """Store ``(key, entry, ttl_s)`` items, in one round trip however many (or later, with another's)."""
    async def flush(self) -> None: ...
    """Finish the writes :meth:`put_many` may have left queued."""
    async def delete(self, key: str) -> bool: ...
    async def bump(self, version_key: str) -> int: ...
    def stats(self) -> dict[str, Any]: ...
    async def aclose(self) -> None: ...


class KeyScheme:
    def __init__(self, namespace: str = "switchyard", hash_tag: str = "sy") -> None:
        self._prefix = namespace
        self._tag = hash_tag
        self._slot = lru_cache(maxsize=65_536)(self._slot_of)

    def _slot_of(self, base: str) -> str:
        return f"{self._prefix}:{{{self._tag}:{digest(base.encode())[:8].hex()}}}:cache:"

    def version_keys(self, namespace: Namespace) -> tuple[str, ...]:
        slot = self._slot(namespace.base)
        if namespace.sub is None:
            return (slot + "v",)
        return slot + "v", slot + "v:" + digest(namespace.sub.encode()).hex()

    def address(self, namespace: Namespace, entry: bytes) -> Address:
        return Address(self._slot(namespace.base) + "e:" + entry.hex(), self.version_keys(namespace))


_OVERHEAD = 160
"""Approximate bytes one entry costs beyond its key and value (dict slot, tuple, object headers)."""


class MemoryBackend:
    """This process only; bounded by bytes, least recently used first out. Expired entries go when touched or
    when space is needed."""

    compress = False

    def __init__(self, max_bytes: int, *, clock: Any = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._versions: dict[str, int] = {}
        self._bytes = 0
        self.evicted = 0

    async def fetch(self, address: Address) -> tuple[bytes | None, Versions]:
        get = self._versions.get
        keys = address.versions
        versions = (get(keys[0], 0), get(keys[1], 0) if len(keys) > 1 else 0)
        found = self._entries.get(address.entry)
        if found is None:
            return None, versions
        if found[1] <= self._clock():
            self._drop(address.entry)
            return None, versions
        self._entries.move_to_end(address.entry)
        return found[0], versions

    async def put_many(self, items: list[tuple[str, bytes, float]]) -> None:
        now = self._clock()
        for key, blob, ttl_s in items:
            size = len(blob) + len(key) + _OVERHEAD
            if size > self.max_bytes:
                continue
            self._drop(key)
            self._entries[key] = (blob, now + ttl_s)
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))
                self.evicted += 1

    async def flush(self) -> None:
        """Nothing is ever queued here."""

    async def delete(self, key: str) -> bool:
        return self._drop(key)

    async def bump(self, version_key: str) -> int:
        version = self._versions.get(version_key, 0) + 1
        self._versions[version_key] = version
        return version

    def _drop(self, key: str) -> bool:
        found = self._entries.pop(key, None)
        if found is None:
            return False
        self._bytes -= len(found[0]) + len(key) + _OVERHEAD
        return True

    def stats(self) -> dict[str, Any]:
        return {
            "backend": "memory", "entries": len(self._entries), "bytes": self._bytes, "max_bytes": self.max_bytes,
            "evicted": self.evicted,
        }

    async def aclose(self) -> None:
        self._entries.clear()
        self._bytes = 0
