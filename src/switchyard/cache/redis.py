"""Entries in Redis, shared by every replica (redis-py asyncio).

A lookup is one ``MGET`` of the namespace's version counters and the entry; a namespace bump is one ``INCR``.
Values are the compressed entries of :mod:`.entry`, expiring by Redis TTL. Stores (``SET ... PX``) do not get
round trips of their own: they wait, at most ``write_delay_s``, for the next lookup and travel in its pipeline.
A round trip concurrent with the next request's lookup is what a miss cost before (measured on the loaded 2-core
VM: the lookup's p50 went from ~0.2 ms to ~3 ms with a write in flight beside it; ``bench/cache.py``).

The cache is an optimisation, so Redis trouble is never the client's: every failure raises
:class:`~switchyard.errors.StateUnavailableError`, which the cache turns into a miss. After a refused connection, or
three timeouts in a row, the backend stops trying for ``retry_s`` so that no request waits on a dead socket.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis

from ..errors import StateUnavailableError
from ..state.guard import RedisGuard
from .backend import Address
from .entry import Versions

__all__ = ["RedisBackend"]

_T = TypeVar("_T")


def _redacted(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}" if rest else url


class RedisBackend:
    compress = True

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        timeout_s: float = 0.1,
        retry_s: float = 1.0,
        max_connections: int = 32,
        write_delay_s: float = 0.005,
        client: aioredis.Redis | None = None,
    ) -> None:
        self.url = _redacted(url)
        if client is None:
            pool = aioredis.BlockingConnectionPool.from_url(
                url, max_connections=max_connections, timeout=timeout_s, socket_timeout=timeout_s,
                socket_connect_timeout=timeout_s, health_check_interval=30,
            )
            client = aioredis.Redis.from_pool(pool)
        self._redis = client
        self._write_delay_s = write_delay_s
        self._queued: list[tuple[str, bytes, float]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flushes: set[asyncio.Task[None]] = set()
        self._guard = RedisGuard("cache store", self.url, retry_s)

    async def _call(self, fn: Callable[[], Awaitable[_T]]) -> _T:
        return await self._guard.call(fn)

    @property
    def errors(self) -> int:
        """Calls that failed because Redis was unreachable (exported as a metric)."""
        return self._guard.errors

    async def fetch(self, address: Address) -> tuple[bytes | None, Versions]:
        keys = [*address.versions, address.entry]
        writes = self._take()
        if writes:
            values: list[Any] = (await self._call(lambda: self._pipeline(writes, keys)))[-1]
        else:
            values = await self._call(lambda: self._redis.mget(keys))
        base = values[0]
        sub = values[1] if len(values) > 2 else None
        return values[-1], (int(base) if base else 0, int(sub) if sub else 0)

    async def put_many(self, items: list[tuple[str, bytes, float]]) -> None:
        """Queue ``items`` for the next lookup's round trip, or a write of their own in ``write_delay_s``."""
        self._queued.extend(items)
        if self._queued and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._write_delay_s, self._write_soon)

    def _take(self) -> list[tuple[str, bytes, float]]:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        queued, self._queued = self._queued, []
        return queued

    def _write_soon(self) -> None:
        self._timer = None
        task = asyncio.ensure_future(self._write_queued())
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _write_queued(self) -> None:
        writes = self._take()
        if writes:
            # Counted in ``errors``; an entry lost is a later miss.
            with contextlib.suppress(StateUnavailableError):
                await self._call(lambda: self._pipeline(writes, None))

    async def flush(self) -> None:
        """Write what is queued now, and wait for the writes under way."""
        await self._write_queued()
        if self._flushes:
            await asyncio.gather(*self._flushes, return_exceptions=True)

    async def _pipeline(self, writes: list[tuple[str, bytes, float]], keys: list[str] | None) -> list[Any]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, blob, ttl_s in writes:
                pipe.set(key, blob, px=max(1, round(ttl_s * 1000)))
            if keys is not None:
                pipe.mget(keys)
            result: list[Any] = await pipe.execute()
            return result

    async def delete(self, key: str) -> bool:
        removed: int = await self._call(lambda: self._redis.delete(key))
        return removed > 0

    async def bump(self, version_key: str) -> int:
        version: int = await self._call(lambda: self._redis.incr(version_key))
        return version

    def stats(self) -> dict[str, Any]:
        return {"backend": "redis", "url": self.url, "errors": self.errors}

    async def aclose(self) -> None:
        await self.flush()
        await self._redis.aclose()
