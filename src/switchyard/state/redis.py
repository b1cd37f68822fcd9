"""State in Redis, shared by every replica (redis-py asyncio, hiredis parser when installed).

Budgets and rate limits go through two Lua scripts (``lua/admit.lua``, ``lua/settle.lua``) that implement
exactly the steps of :class:`~switchyard.state.counters.Counters`: admission is one ``EVALSHA``, i.e. one round
trip per request. Time is Redis's own ``TIME``, so replicas with skewed clocks still share one window.

Keys look like ``switchyard:{sy}:budget:team:search:d:2026-11-23``. Every key carries the same hash tag, so
every key one admission touches lives in one Redis Cluster slot — the price of atomic admission across
budgets that span tenants (a global budget) is that the gateway's counters share a slot; use a distinct
``hash_tag`` per gateway deployment to spread several gateways over a cluster.

When Redis cannot be reached every call raises :class:`~switchyard.errors.StateUnavailableError` quickly: after
a refused connection, or three timeouts in a row, the store stops trying for ``retry_s`` (no request waits on a
dead socket), then tries again — recovery needs nobody. A single slow answer fails only its own call: under a
burst the event loop itself can lag, and treating that as an outage would let a whole second of traffic past
every budget (measured: bench/replicas.py did exactly that before this distinction). Connections come from a
bounded pool, so a burst of requests queues for one of ``max_connections`` sockets instead of opening hundreds.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any

import msgspec
import orjson
import redis.asyncio as aioredis
from redis.exceptions import WatchError

from ..errors import StateUnavailableError
from .base import R, StateStore, T
from .guard import RedisGuard
from .ops import Admit, AdmitResult, Settle

__all__ = ["RedisStore"]

_LUA = resources.files(__package__) / "lua"


def _redacted(url: str) -> str:
    scheme, _, rest = url.partition("://")
    host = rest.rpartition("@")[2]
    return f"{scheme}://{host}" if rest else url


class RedisStore(StateStore):
    shared = True

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        namespace: str = "switchyard",
        hash_tag: str = "sy",
        timeout_s: float = 1.0,
        retry_s: float = 1.0,
        max_connections: int = 32,
        client: aioredis.Redis | None = None,
    ) -> None:
        self.url = _redacted(url)
        self._prefix = f"{namespace}:{{{hash_tag}}}:"
        if client is None:
            pool = aioredis.BlockingConnectionPool.from_url(
                url, max_connections=max_connections, timeout=timeout_s, socket_timeout=timeout_s,
                socket_connect_timeout=timeout_s, health_check_interval=30,
            )
            client = aioredis.Redis.from_pool(pool)  # owns the pool: aclose() closes its connections
        self._redis = client
        self._admit = self._redis.register_script((_LUA / "admit.lua").read_text())
        self._settle = self._redis.register_script((_LUA / "settle.lua").read_text())
        self._guard = RedisGuard("state store", self.url, retry_s)

    def key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    async def _call(self, fn: Callable[[], Any]) -> Any:
        return await self._guard.call(fn)

    @property
    def errors(self) -> int:
        """Calls that failed because Redis was unreachable (exported as a metric)."""
        return self._guard.errors

    async def get(self, key: str, type_: type[R]) -> R | None:
        raw = await self._call(lambda: self._redis.get(key))
        return None if raw is None else msgspec.json.decode(raw, type=type_)

    async def update(self, key: str, type_: type[R], fn: Callable[[R | None], tuple[R, T]]) -> T:
        async def transaction() -> T:
            async with self._redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(key)
                        raw = await pipe.get(key)
                        record, result = fn(None if raw is None else msgspec.json.decode(raw, type=type_))
                        pipe.multi()  # type: ignore[no-untyped-call]
                        pipe.set(key, msgspec.json.encode(record))
                        await pipe.execute()
                        return result
                    except WatchError:
                        continue

        result: T = await self._call(transaction)
        return result

    async def keys(self, prefix: str) -> list[str]:
        async def scan() -> list[str]:
            return [k.decode() async for k in self._redis.scan_iter(match=prefix.replace("{", "\\{") + "*")]

        found: list[str] = await self._call(scan)
        return found

    def _keys_of(self, op: Admit | Settle) -> list[str]:
        released = op.release if isinstance(op, Settle) else []
        return [*(b.key for b in op.budgets), *(b.key for b in released), *(c.key for c in op.limits)]

    async def admit(self, op: Admit) -> AdmitResult:
        raw = await self._call(lambda: self._admit(keys=self._keys_of(op), args=[msgspec.json.encode(op)]))
        data = orjson.loads(raw)
        for name in ("spent", "pending", "rate_used", "rate_reset"):
            if data.get(name) == {}:
                data[name] = []
        return msgspec.convert(data, AdmitResult)

    async def settle(self, op: Settle) -> list[int]:
        raw = await self._call(lambda: self._settle(keys=self._keys_of(op), args=[msgspec.json.encode(op)]))
        data = orjson.loads(raw)
        return [int(v) for v in data] if isinstance(data, list) else []

    async def flush_namespace(self) -> None:
        """Delete every key of this namespace (tests and ``switchyard`` admin resets)."""
        found = await self.keys(self._prefix)
        if found:
            await self._call(lambda: self._redis.delete(*found))

    async def ping(self) -> bool:
        try:
            await self._call(self._redis.ping)
        except StateUnavailableError:
            return False
        return True

    async def aclose(self) -> None:
        await self._redis.aclose()
