"""Semantic-cache entries in Redis, shared by every replica, with a stream as the change log.

Keys (one hash tag, so one Redis Cluster slot)::

    <namespace>:{<tag>}:sem:e:<id>       the entry (msgpack: text, vector, response key...), expiring by TTL
    <namespace>:{<tag>}:sem:n:<ns>       set of the entry ids of cache namespace <ns>, for namespace removal
    <namespace>:{<tag>}:sem:log          stream of changes: add (the whole entry), del (ids), ns (a namespace)

An insert is one ``MULTI`` (``SET``, ``SADD``, ``PEXPIRE``, ``XADD``), so the entry and its log record appear
together. The stream is capped (``MAXLEN ~``); a replica that fell behind past the cap is told its cursor is
stale and reloads from a snapshot. A replica blocks on ``XREAD`` on a connection of its own, so the follower never
holds up the connections inserts use.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError, WatchError

from ...errors import StateUnavailableError
from .entry import SemanticEntry
from .store import Added, Changes, Event, NamespaceRemoved, Removed

__all__ = ["RedisSemanticStore"]

_T = TypeVar("_T")
_BATCH = 500


def _redacted(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}" if rest else url


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _stream_id(raw: bytes | str) -> tuple[int, int]:
    ms, _, seq = _text(raw).partition("-")
    return int(ms), int(seq or 0)


class RedisSemanticStore:
    """A :class:`~.store.SemanticStore` in Redis. ``max_log``: changes the stream keeps (about)."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        namespace: str = "switchyard",
        hash_tag: str = "sy",
        timeout_s: float = 1.0,
        max_log: int = 100_000,
        max_connections: int = 16,
    ) -> None:
        self.url = _redacted(url)
        self._prefix = f"{namespace}:{{{hash_tag}}}:sem:"
        self._log = self._prefix + "log"
        self._max_log = max_log
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=timeout_s, socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
        )
        self._redis = aioredis.Redis.from_pool(pool)
        self._url, self._timeout_s = url, timeout_s
        self._follower: aioredis.Redis | None = None

    def _entry_key(self, entry_id: str) -> str:
        return f"{self._prefix}e:{entry_id}"

    def _namespace_key(self, namespace: str) -> str:
        return f"{self._prefix}n:{namespace}"

    async def _call(self, fn: Callable[[], Awaitable[_T]]) -> _T:
        try:
            return await fn()
        except (RedisError, OSError) as exc:
            raise StateUnavailableError(
                f"semantic cache store {self.url} is unreachable: {type(exc).__name__}"
            ) from exc

    async def put(self, entry: SemanticEntry, ttl_s: float) -> None:
        blob = entry.encode()
        ttl_ms = max(int(ttl_s * 1000), 1)
        ns_key = self._namespace_key(entry.namespace)

        async def run() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(self._entry_key(entry.id), blob, px=ttl_ms)
                pipe.sadd(ns_key, entry.id)
                # The id set lives as long as its longest-lived entry: NX gives a new set a TTL, GT extends it.
                pipe.pexpire(ns_key, ttl_ms, nx=True)
                pipe.pexpire(ns_key, ttl_ms, gt=True)
                pipe.xadd(self._log, {"op": "add", "e": blob}, maxlen=self._max_log, approximate=True)
                await pipe.execute()

        await self._call(run)

    async def remove(self, ids: Sequence[str]) -> None:
        # The ids stay in their namespace's set until it expires: deleting a missing key later is harmless,
        # and not knowing the namespace saves a read.
        if not ids:
            return

        async def run() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(*(self._entry_key(i) for i in ids))
                pipe.xadd(self._log, {"op": "del", "ids": " ".join(ids)}, maxlen=self._max_log, approximate=True)
                await pipe.execute()

        await self._call(run)

    async def remove_namespace(self, namespace: str) -> int:
        ns_key = self._namespace_key(namespace)

        async def run() -> int:
            async with self._redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        # WATCH: an insert into this namespace between reading the ids and deleting them
                        # (its SADD touches the set) makes the transaction retry, so none is left behind.
                        await pipe.watch(ns_key)
                        ids = [_text(i) for i in await pipe.smembers(ns_key)]
                        pipe.multi()  # type: ignore[no-untyped-call]
                        batches = range(0, len(ids), _BATCH)
                        for start in batches:
                            pipe.delete(*(self._entry_key(i) for i in ids[start : start + _BATCH]))
                        pipe.delete(ns_key)
                        pipe.xadd(self._log, {"op": "ns", "ns": namespace}, maxlen=self._max_log, approximate=True)
                        results = await pipe.execute()
                        # The set may name entries already removed one by one: count what was really deleted.
                        return sum(int(n) for n in results[: len(batches)])
                    except WatchError:
                        continue

        return await self._call(run)

    async def snapshot(self) -> tuple[str, list[SemanticEntry]]:
        async def run() -> tuple[str, list[SemanticEntry]]:
            # The position first: whatever changes after it is replayed from the log (idempotently), so
            # nothing written during the scan is lost.
            last: Any = await self._redis.xrevrange(self._log, count=1)
            cursor = _text(last[0][0]) if last else "0-0"
            entries: list[SemanticEntry] = []
            keys: list[bytes] = []
            async for key in self._redis.scan_iter(match=self._prefix + "e:*", count=1000):
                keys.append(key)
                if len(keys) >= _BATCH:
                    entries.extend(await self._fetch(keys))
                    keys = []
            entries.extend(await self._fetch(keys))
            return cursor, entries

        return await self._call(run)

    async def _fetch(self, keys: list[bytes]) -> list[SemanticEntry]:
        if not keys:
            return []
        now = time.time()
        blobs: list[Any] = await self._redis.mget(keys)
        decoded = (SemanticEntry.decode(b) for b in blobs if b is not None)
        return [e for e in decoded if e.expires_at > now]

    async def changes(self, cursor: str, *, wait_s: float) -> Changes:
        follower = self._follower_client(wait_s)

        async def run() -> Changes:
            block = int(wait_s * 1000) if wait_s > 0 else None
            reply: Any = await follower.xread({self._log: cursor}, count=_BATCH, block=block)
            if await self._trimmed_past(follower, cursor):
                return Changes(cursor, [], stale=True)
            events: list[Event] = []
            position = cursor
            for _stream, records in reply or []:
                for record_id, fields in records:
                    position = _text(record_id)
                    event = _event(fields)
                    if event is not None:
                        events.append(event)
            return Changes(position, events)

        return await self._call(run)

    async def _trimmed_past(self, client: aioredis.Redis, cursor: str) -> bool:
        """Whether changes after ``cursor`` may have been trimmed from the stream (or the stream was lost)."""
        try:
            info: dict[str, Any] = await client.xinfo_stream(self._log)
        except ResponseError:
            return cursor != "0-0"  # no stream: Redis lost it (restart without persistence), or never had one
        last_id = info.get("last-generated-id")
        if last_id is not None and _stream_id(last_id) < _stream_id(cursor):
            return True  # a new stream, younger than our position: Redis was reset
        first = info.get("first-entry")
        trimmed = int(info.get("entries-added", 0)) - int(info.get("length", 0))
        return bool(trimmed > 0 and first and _stream_id(first[0]) > _stream_id(cursor))

    def _follower_client(self, wait_s: float) -> aioredis.Redis:
        if self._follower is None:
            # A connection of its own whose socket timeout outlasts the blocking read.
            self._follower = aioredis.Redis.from_url(
                self._url, socket_timeout=wait_s + self._timeout_s, socket_connect_timeout=self._timeout_s,
            )
        return self._follower

    async def flush(self) -> None:
        """Delete every key of this store (tests, admin resets)."""

        async def run() -> None:
            keys = [k async for k in self._redis.scan_iter(match=self._prefix + "*", count=1000)]
            for start in range(0, len(keys), _BATCH):
                await self._redis.delete(*keys[start : start + _BATCH])

        await self._call(run)

    async def aclose(self) -> None:
        if self._follower is not None:
            await self._follower.aclose()
        await self._redis.aclose()


def _event(fields: dict[bytes, bytes]) -> Event | None:
    op = fields.get(b"op")
    if op == b"add":
        return Added(SemanticEntry.decode(fields[b"e"]))
    if op == b"del":
        return Removed(tuple(fields[b"ids"].decode().split()))
    if op == b"ns":
        return NamespaceRemoved(fields[b"ns"].decode())
    return None  # written by a newer gateway: skip what we do not understand
