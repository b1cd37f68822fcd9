"""Connections and the pool behind :class:`~switchyard.providers.http1.Http1Transport`.

A :class:`Connection` is an asyncio protocol around one socket with an ``httptools`` response parser fed straight
from ``data_received``. The parser's callbacks only record (status, body pieces, flags); the head is kept as bytes
and parsed only if someone reads the headers (adapters do on errors only). Whoever waits for the response is woken
once per ``data_received``, so a small response parsed from one read costs one wake-up. Read timeouts use one
``loop.call_at`` timer per connection, not a task or a timer per wait.

The :class:`Pool` bounds open connections in total (idle and busy, every origin together); requests beyond the
limit queue FIFO. Idle connections are kept per origin, most recently used first, and closed after
``keepalive_timeout`` by one sweeper timer for the whole pool.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from contextlib import suppress
from typing import cast

import httptools

__all__ = ["Connection", "Key", "Pool", "ServerDisconnectedError"]

Key = tuple[str, str, int]
"""An origin: scheme, host, port."""

_HIGH_WATER = 1 << 18
"""Unread body bytes past which the socket stops being read (TCP flow control pushes back on the upstream)."""
_MAX_HEAD = 1 << 16
"""Bytes an upstream may send before its response head is complete."""


class ServerDisconnectedError(ConnectionError):
    """The upstream closed the connection before its response was complete."""


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; one exchange at a time (no pipelining)."""

    __slots__ = (
        "active", "buffered", "chunks", "closed", "deadline", "done", "encoding", "exc", "got_bytes", "head",
        "headers_done", "idle_since", "interims", "is_head", "keep_alive", "key", "loop", "parser", "paused",
        "pending", "pool", "read_timeout", "requests", "status", "timer", "timer_at", "transport", "wait_until",
        "waiter",
    )

    transport: asyncio.Transport

    def __init__(self, pool: Pool, key: Key) -> None:
        self.pool = pool
        self.key = key
        self.loop = pool.loop
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.active = False
        self.paused = False
        self.requests = 0
        self.idle_since = 0.0
        self.waiter: asyncio.Future[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.wait_until = 0.0
        self.is_head = False
        self.keep_alive = True
        self.read_timeout = 0.0
        self.deadline = 0.0
        self.status = 0
        self.pending: list[bytes] = []
        self.head = b""
        self.interims = 0
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.headers_done = False
        self.done = False
        self.got_bytes = False
        self.encoding: bytes | None = None
        self.exc: BaseException | None = None

    # -- the exchange, as the transport drives it ---------------------------------------------------------

    def begin(self, is_head: bool, keep_alive: bool, read_timeout: float, deadline: float) -> None:
        """Reset the per-response state before a request is written."""
        self.active = True
        self.requests += 1
        self.is_head = is_head
        self.keep_alive = keep_alive
        self.read_timeout = read_timeout
        self.deadline = deadline
        self.status = 0
        self.pending = []
        self.interims = 0
        self.chunks = []
        self.buffered = 0
        self.headers_done = False
        self.done = False
        self.got_bytes = False
        self.encoding = None
        self.exc = None
        if self.closed:
            self.exc = ServerDisconnectedError()

    def wait(self) -> asyncio.Future[None]:
        """A future done at the next ``data_received``, at the end of the connection or on timeout (then ``exc``
        is set). A plain future, not a coroutine: awaiting it costs no frame."""
        loop = self.loop
        waiter = self.waiter = loop.create_future()
        now = loop.time()
        if now >= self.deadline:
            self.exc = TimeoutError("the total deadline passed")
            waiter.set_result(None)
            return waiter
        until = self.wait_until = min(now + self.read_timeout, self.deadline)
        # One timer per connection, moved only when it would fire too late: when it fires early it re-arms
        # itself (see _timed_out). A call_at and a cancel per wait would cost more than the rest of a request.
        if self.timer is None or self.timer_at > until:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = loop.call_at(until, self._timed_out)
            self.timer_at = until
        return waiter

    def take(self) -> bytes:
        """The body bytes received and not yet taken (``b""`` if none)."""
        chunks = self.chunks
        if not chunks:
            return b""
        self.chunks = []
        self.buffered = 0
        if self.paused:
            self.paused = False
            self.transport.resume_reading()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def release(self) -> None:
        """The response was read to its end: back to the pool, unless either side asked to close."""
        self.active = False
        if self.keep_alive and not self.closed:
            if self.paused:
                self.paused = False
                self.transport.resume_reading()
            self.pool.put(self)
        else:
            self.close()

    def close(self) -> None:
        """Close gracefully: nothing is in flight."""
        if not self.closed:
            self._closed()
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection now: a response is unfinished, so its state is unknown."""
        if not self.closed:
            self._closed()
            self.transport.abort()

    def _closed(self) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.pool.forget(self)

    def _timed_out(self) -> None:
        self.timer = None
        waiter = self.waiter
        if waiter is None or waiter.done():
            return  # not waiting: the next wait arms a timer if it needs one
        if self.loop.time() < self.wait_until:
            self.timer = self.loop.call_at(self.wait_until, self._timed_out)  # armed for an earlier wait
            self.timer_at = self.wait_until
            return
        self.exc = TimeoutError("no data from the upstream within the read timeout")
        waiter.set_result(None)

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- asyncio.Protocol ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport's interface without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if not self.active:
            # Nothing was asked: an idle connection that speaks (a 408 before closing, say) cannot be reused.
            self.abort()
            return
        self.got_bytes = True
        if not self.headers_done:
            self.pending.append(data)  # the head is cut from these once the parser has accepted it
            self.buffered += len(data)
        try:
            self.parser.feed_data(data)
            if not self.headers_done and self.buffered > _MAX_HEAD:
                raise httptools.HttpParserError("response head too large")
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if not self.done:
                self.exc = exc
            self.keep_alive = False
            self.abort()
        if self.buffered > _HIGH_WATER and not self.paused and not self.closed:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> None:
        return None  # let the transport close; connection_lost settles the response

    def connection_lost(self, exc: Exception | None) -> None:
        if self.active and not self.done:
            # A body delimited by the end of the connection ends when the upstream closes it cleanly; not when
            # this side did (``closed`` is set before the transport is told: aclose, an abandoned response), which
            # would pass a truncated body off as whole.
            if self.headers_done and exc is None and not self.closed and not self._framed():
                self.done = True
            elif self.exc is None:
                self.exc = exc if exc is not None else ServerDisconnectedError()
        self.keep_alive = False
        if not self.closed:
            self._closed()
        self._wake()

    def _framed(self) -> bool:
        lowered = self.head.lower()
        return b"\ncontent-length:" in lowered or b"\ntransfer-encoding:" in lowered

    # -- httptools callbacks: no on_header, the head is kept as bytes and parsed only if asked -------------

    def on_message_begin(self) -> None:
        if self.done:
            self.keep_alive = False  # a second response to one request: the stream is out of step

    def on_headers_complete(self) -> None:
        parser = self.parser
        status = parser.get_status_code()
        if status < 200 and status != 101:
            self.interims += 1  # 100 Continue, 103 Early Hints: skipped, the real response follows
            return
        pending = self.pending
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        self.pending = []
        self.buffered = 0
        # The parser insists on CRLF line ends and no folding, so the head ends at the first blank line
        # (after those of the interim responses).
        start = 0
        for _ in range(self.interims):
            start = data.index(b"\r\n\r\n", start) + 4
        while data.startswith(b"\r\n", start):
            start += 2
        head = self.head = data[start:data.index(b"\r\n\r\n", start)]
        lowered = head.lower()
        found = lowered.find(b"\ncontent-encoding:")
        if found != -1:
            end = lowered.find(b"\r", found + 18)
            self.encoding = lowered[found + 18:end if end != -1 else None].strip()
        self.status = status
        self.keep_alive = self.keep_alive and parser.should_keep_alive()
        self.headers_done = True
        if self.is_head:
            # The parser cannot be told that a HEAD response has no body, so it would read one if the headers
            # announced a length: the response ends here and the connection is not reused.
            self.done = True
            self.keep_alive = False

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)

    def on_message_complete(self) -> None:
        if self.headers_done:
            self.done = True  # (an interim response's completion is not the response's)


class Pool:
    """Connections by origin. ``limit`` bounds every open connection, idle or busy; waiters are served FIFO."""

    __slots__ = ("_closed", "_conns", "_idle", "_keepalive", "_limit", "_reserved", "_sweeper", "_waiters", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int, keepalive_timeout: float) -> None:
        self.loop = loop
        self._limit = limit
        self._keepalive = keepalive_timeout
        self._idle: dict[Key, deque[Connection]] = {}
        self._conns: set[Connection] = set()
        """Adopted connections, open ones only: each holds a slot."""
        self._reserved = 0
        """Slots taken: open connections plus connections being opened."""
        self._waiters: deque[tuple[Key | None, asyncio.Future[Connection | None]]] = deque()
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False

    def take(self, key: Key) -> Connection | None:
        """The most recently used idle connection to ``key``, if any."""
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed and not conn.transport.is_closing():
                return conn
            conn.abort()
        return None

    async def acquire(self, key: Key | None) -> Connection | None:
        """Wait for room: a reserved slot (``None``: open a connection) or, unless ``key`` is ``None``, a
        connection to ``key`` handed over by a request that finished with it."""
        if self._closed:
            raise ConnectionAbortedError("the transport was closed")
        if self._next_waiter() is None:
            if self._reserved >= self._limit:
                self._evict()
            if self._reserved < self._limit:
                self._reserved += 1
                return None
        waiter: asyncio.Future[Connection | None] = self.loop.create_future()
        entry = (key, waiter)
        self._waiters.append(entry)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                conn = waiter.result()  # handed over just as this request gave up: pass it on
                if conn is None:
                    self.unreserve()
                else:
                    self.put(conn)
            else:
                waiter.cancel()
                with suppress(ValueError):  # already dropped by _next_waiter
                    self._waiters.remove(entry)
            raise

    def adopt(self, conn: Connection) -> None:
        """A connection opened on a reserved slot now holds it (until ``forget``)."""
        if conn.closed:
            self.unreserve()  # lost before it was adopted: forget() did not count it
            return
        self._conns.add(conn)
        if self._closed:
            conn.abort()

    def unreserve(self) -> None:
        """A reserved slot was not used (the connection could not be opened)."""
        self._reserved -= 1
        self._serve_waiter()

    def put(self, conn: Connection) -> None:
        if self._closed:
            conn.close()
            return
        entry = self._next_waiter()
        if entry is not None:
            key, waiter = entry
            if key == conn.key:
                self._waiters.popleft()
                waiter.set_result(conn)
            else:
                conn.close()  # FIFO across origins: the first waiter gets this connection's slot
            return
        conn.idle_since = now = self.loop.time()
        idle = self._idle.get(conn.key)
        if idle is None:
            idle = self._idle[conn.key] = deque()
        idle.append(conn)
        if self._sweeper is None:
            self._sweeper = self.loop.call_at(now + self._keepalive, self._sweep)

    def forget(self, conn: Connection) -> None:
        """``conn`` is closed: its slot is free."""
        if conn in self._conns:
            self._conns.remove(conn)
            self._reserved -= 1
            self._serve_waiter()

    async def aclose(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        while self._next_waiter() is not None:
            _, waiter = self._waiters.popleft()
            waiter.set_exception(ConnectionAbortedError("the transport was closed"))
        for conn in list(self._conns):
            if conn.active:
                conn.abort()
            else:
                conn.close()
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports call connection_lost before the caller moves on

    def _next_waiter(self) -> tuple[Key | None, asyncio.Future[Connection | None]] | None:
        """The first waiter still waiting (a cancelled one is cancelled at once, removed only when its task
        runs)."""
        waiters = self._waiters
        while waiters:
            if not waiters[0][1].done():
                return waiters[0]
            waiters.popleft()
        return None

    def _serve_waiter(self) -> None:
        if self._reserved < self._limit and self._next_waiter() is not None:
            _, waiter = self._waiters.popleft()
            self._reserved += 1
            waiter.set_result(None)

    def _evict(self) -> None:
        """Close an idle connection (the oldest of some origin) to make room for another origin."""
        for idle in self._idle.values():
            while idle:
                conn = idle.popleft()
                if not conn.closed:
                    conn.close()
                    return

    def _sweep(self) -> None:
        self._sweeper = None
        now = self.loop.time()
        expired = now - self._keepalive
        next_at: float | None = None
        for key, idle in list(self._idle.items()):
            while idle and (idle[0].closed or idle[0].idle_since <= expired):
                idle.popleft().close()
            if idle:
                at = idle[0].idle_since + self._keepalive
                next_at = at if next_at is None else min(next_at, at)
            else:
                del self._idle[key]
        if next_at is not None:
            self._sweeper = self.loop.call_at(next_at, self._sweep)
