"""A lean HTTP/1.1 client :class:`~switchyard.providers.transport.Transport` on asyncio protocols and ``httptools``.

Why not aiohttp's client: it costs ~50 µs of CPU per proxied request, a fifth of the gateway's. This transport
does only what the gateway needs (the request written with one ``transport.write``, a C parser fed straight from
the socket, one future per wait, no task) at a fraction of that; see ``bench/transport.py``.

What it does: http and https (``ssl.create_default_context()``, SNI), keep-alive pooling per origin with a total
connection limit, bodies by length, chunked or until close, gzip/deflate decoding (no ``accept-encoding`` is
sent, so upstreams answer identity), connect/read/total timeouts, one retry on a fresh connection when a pooled
one turns out to be closed before any response byte. What it does not: proxies, HTTP/2, pipelining, cookies,
redirects (a gateway forwards what the upstream says).

Errors are mapped as ``AiohttpTransport`` maps them: timeouts to ``UpstreamTimeoutError``; refused, reset or cut-off
connections to ``UpstreamUnavailableError``; a request this transport refuses to send (a header carrying CR/LF, an
unsupported URL) to a plain ``UpstreamError``, which other deployments may still serve. Messages never contain
header values or URLs (keys travel in both).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import zlib
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import NamedTuple
from urllib.parse import quote

from ..errors import UpstreamError, UpstreamTimeoutError, UpstreamUnavailableError
from .http1_pool import Connection, Key, Pool
from .transport import UpstreamRequest, UpstreamResponse

__all__ = ["Http1Transport"]

_USER_AGENT = "User-Agent: switchyard\r\n"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
"""Methods that send ``content-length: 0`` without a body, as RFC 9110 asks."""
_KNOWN_METHODS = _BODY_METHODS | {"GET", "HEAD", "DELETE", "OPTIONS"}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_UNSAFE_URL = re.compile(r"[\x00-\x20\x7f]")
_PRINTABLE = "".join(map(chr, range(0x21, 0x7F)))
_DEFAULT_PORTS = {"http": 80, "https": 443}
STALE_WINDOW_S = 1.0
"""A pooled connection failing this soon after the request was written (before any response byte) is taken for
one the upstream closed while idle, and the request is resent once on a new connection."""

# What a request header's name means to _serialize.
_PLAIN, _HOST, _DROP, _AGENT, _CONNECTION = range(5)
_SPECIAL_NAMES = {"host": _HOST, "content-length": _DROP, "transfer-encoding": _DROP, "user-agent": _AGENT,
                  "connection": _CONNECTION}


class _Target(NamedTuple):
    key: Key
    host: str
    """For connecting and SNI: no brackets around an IPv6 literal."""
    port: int
    tls: bool
    line: str
    """`` <path?query> HTTP/1.1\\r\\n`` (after the method)."""
    host_line: str
    """``Host: <host[:port]>\\r\\n``"""


def _parse_url(url: str) -> _Target:
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise UpstreamError("invalid upstream URL: expected http:// or https://")
    if scheme not in _DEFAULT_PORTS:
        raise UpstreamError(f"unsupported upstream URL scheme {scheme[:10]!r}: expected http or https")
    end = len(rest)
    for stop in "/?#":
        found = rest.find(stop)
        if found != -1:
            end = min(end, found)
    authority, target = rest[:end], rest[end:].partition("#")[0]
    if "@" in authority:
        raise UpstreamError("upstream URLs with credentials in them are not supported")
    if authority.startswith("["):
        host, _, port_text = authority[1:].partition("]")
        port_text = port_text.removeprefix(":")
    else:
        host, _, port_text = authority.partition(":")
    default = _DEFAULT_PORTS[scheme]
    try:
        port = int(port_text) if port_text else default
        host = host.encode("idna").decode("ascii").lower()
    except (ValueError, UnicodeError) as exc:
        raise UpstreamError("invalid upstream URL: bad host or port") from exc
    if not host or not 0 < port < 65536 or _UNSAFE_URL.search(host + target):
        raise UpstreamError("invalid upstream URL: bad host, port or path")
    target = quote(target if target.startswith("/") else "/" + target, safe=_PRINTABLE)
    shown = f"[{host}]" if ":" in host else host
    if port != default:
        shown = f"{shown}:{port}"
    return _Target((scheme, host, port), host, port, scheme == "https", f" {target} HTTP/1.1\r\n", f"Host: {shown}\r\n")


def _checked_method(method: str) -> str:
    method = method.upper()
    if not _TOKEN.fullmatch(method):
        raise UpstreamError("the request method is not a valid HTTP token; refusing to send it")
    return method


def _name_kind(name: str) -> int:
    if not _TOKEN.fullmatch(name):
        raise UpstreamError("a request header name is not a valid HTTP token; refusing to send it")
    return _SPECIAL_NAMES.get(name.lower(), _PLAIN)


_SINGLE_VALUED = frozenset({"content-type", "content-length", "retry-after", "retry-after-ms", "date", "location"})
"""Fields that hold one value: repeated, the first one counts (as aiohttp's ``get`` gives it), since a joined
``"120, 120"`` would parse as neither."""


class _Headers(Mapping[str, str]):
    """Response headers, case-insensitive; repeated names joined with ``", "`` (the first kept for
    :data:`_SINGLE_VALUED` ones). Keys iterate in lower case."""

    __slots__ = ("_items",)

    def __init__(self, head: bytes, decoded: bool) -> None:
        items: dict[str, str] = {}
        # The parser accepted this head: CRLF line ends, no folding, no space before the colon.
        for line in head.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            name = name.lower()
            if decoded and name in ("content-encoding", "content-length"):
                continue  # they described the encoded body, which the caller never sees
            value = value.strip(" \t")
            if name not in items:
                items[name] = value
            elif name not in _SINGLE_VALUED:
                items[name] = f"{items[name]}, {value}"
        self._items = items

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"<Headers {sorted(self._items)}>"


def _failure(conn: Connection) -> UpstreamError:
    exc = conn.exc
    if isinstance(exc, TimeoutError):
        return UpstreamTimeoutError("upstream timed out")
    if conn.headers_done:
        return UpstreamUnavailableError("upstream response body was cut off")
    return UpstreamUnavailableError(f"upstream connection failed: {type(exc).__name__}")


class _Decoder:
    """gzip or deflate (zlib-wrapped, or raw as some servers send it), decided on the first bytes."""

    __slots__ = ("_gzip", "_zlib")

    def __init__(self, encoding: bytes) -> None:
        self._gzip = encoding in (b"gzip", b"x-gzip")
        self._zlib: zlib._Decompress | None = None

    def feed(self, data: bytes) -> bytes:
        if self._zlib is None:
            if self._gzip:
                wbits = 16 + zlib.MAX_WBITS
            else:
                wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0
                wbits = zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS
            self._zlib = zlib.decompressobj(wbits)
        return self._zlib.decompress(data)

    def flush(self) -> bytes:
        if self._zlib is None:
            return b""
        if not self._zlib.eof:
            raise zlib.error("the compressed stream is truncated")
        return self._zlib.flush()


class _Response:
    __slots__ = ("_body", "_conn", "_decoded", "_decoder", "_head", "_headers", "_rest", "status")

    def __init__(self, status: int, head: bytes, conn: Connection | None, body: bytes | None,
                 encoding: bytes | None) -> None:
        self.status = status
        self._head = head
        self._headers: _Headers | None = None
        self._conn = conn
        self._rest = body
        """A body received whole (``conn`` is then ``None``), until it is pulled."""
        self._decoder: _Decoder | None = None
        self._decoded = False
        if encoding is not None and encoding in (b"gzip", b"x-gzip", b"deflate"):  # others pass through as sent
            self._decoder = _Decoder(encoding)
            self._decoded = True
        self._body = body if self._decoder is None else None
        """What ``read()`` returned, for a second call."""

    @property
    def headers(self) -> Mapping[str, str]:
        if self._headers is None:
            self._headers = _Headers(self._head, self._decoded)
        return self._headers

    async def read(self) -> bytes:
        if self._body is None:
            parts: list[bytes] = []
            while (data := await self._pull()) is not None:
                parts.append(data)
            self._body = b"".join(parts)
        return self._body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        while (data := await self._pull()) is not None:
            yield data

    def close(self) -> None:
        conn = self._conn
        if conn is not None:
            self._conn = None
            if conn.done:
                conn.release()  # received whole, unread: reusable all the same
            else:
                conn.abort()

    def __del__(self) -> None:
        # A caller that forgot close(): the connection would otherwise hold its pool slot forever.
        conn = self._conn
        if conn is not None and not conn.loop.is_closed():
            conn.abort()

    async def _pull(self) -> bytes | None:
        """The next piece of the body, as it arrived; ``None`` at its end."""
        decoder = self._decoder
        while True:
            data = await self._pull_raw()
            if decoder is None:
                return data
            try:
                if data is None:
                    self._decoder = None
                    return decoder.flush() or None
                data = decoder.feed(data)
            except zlib.error as exc:
                raise UpstreamUnavailableError("upstream response body could not be decompressed") from exc
            if data:
                return data

    async def _pull_raw(self) -> bytes | None:
        conn = self._conn
        if conn is None:
            data, self._rest = self._rest, None
            return data or None
        try:
            while True:
                data = conn.take()
                if data:
                    return data
                if conn.done:
                    self._conn = None
                    conn.release()
                    return None
                if conn.exc is not None:
                    raise _failure(conn) from conn.exc
                await conn.wait()
        except BaseException:
            # A failure, a timeout or the caller's cancellation: the response is unfinished, drop the socket.
            self._conn = None
            conn.abort()
            raise


class Http1Transport:
    """Pooled HTTP/1.1 client. ``limit`` bounds open connections to all upstreams together; idle ones close after
    ``keepalive_timeout`` seconds. After ``aclose()`` the next request opens a fresh pool."""

    def __init__(self, *, limit: int = 1000, keepalive_timeout: float = 30.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._limit = limit
        self._keepalive = keepalive_timeout
        self._ssl = ssl_context
        self._pool: Pool | None = None
        self._targets: dict[str, _Target] = {}
        self._names: dict[str, int] = {}
        """Header names already validated, and what they are."""

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        url = request.url
        target = self._targets.get(url)
        if target is None:
            target = self._target(url)
        method = request.method
        if method not in _KNOWN_METHODS:
            method = _checked_method(method)
        data, keep_alive = self._serialize(method, request, target)
        pool = self._pool
        if pool is None:
            pool = self._pool = Pool(asyncio.get_running_loop(), self._limit, self._keepalive)
        timeout = request.timeout
        deadline = pool.loop.time() + timeout.total
        is_head = method == "HEAD"
        conn = pool.take(target.key)
        if conn is None:
            conn = await self._connect(pool, target, timeout.connect, deadline, reuse=True)
        if not await _exchange(conn, data, is_head, keep_alive, timeout.read, deadline):
            # A pooled connection the upstream had closed: it never saw the request, so it is safe to resend.
            conn = await self._connect(pool, target, timeout.connect, deadline, reuse=False)
            await _exchange(conn, data, is_head, keep_alive, timeout.read, deadline)
        if not conn.done:
            return _Response(conn.status, conn.head, conn, None, conn.encoding)
        # Received whole (the common case for a small answer): the connection goes back to the pool at once.
        chunks = conn.chunks
        body = b"" if is_head or not chunks else chunks[0] if len(chunks) == 1 else b"".join(chunks)
        response = _Response(conn.status, conn.head, None, body, conn.encoding)
        conn.release()
        return response

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose()

    def _target(self, url: str) -> _Target:
        target = _parse_url(url)
        if len(self._targets) >= 1024:
            self._targets.clear()  # URLs differ by query string at most; a bound, not an LRU
        self._targets[url] = target
        return target

    def _serialize(self, method: str, request: UpstreamRequest, target: _Target) -> tuple[bytes, bool]:
        """The request head and body as one buffer; whether the caller allows keep-alive."""
        headers = request.headers
        names = self._names
        host_line = target.host_line
        agent = _USER_AGENT
        keep_alive = True
        drop = False
        for name in headers:
            kind = names.get(name)
            if kind is None:
                kind = names[name] = _name_kind(name)
                if len(names) > 4096:
                    names.clear()
            if kind:
                if kind == _HOST:
                    host_line = ""
                elif kind == _DROP:
                    drop = True  # the transport frames the body itself
                elif kind == _AGENT:
                    agent = ""
                elif "close" in headers[name].lower():
                    keep_alive = False
        if drop:
            sent = [(k, v) for k, v in headers.items() if names[k] != _DROP]
            block = "".join([f"{k}: {v}\r\n" for k, v in sent])
            count = len(sent)
        else:
            block = "".join([f"{k}: {v}\r\n" for k, v in headers.items()])
            count = len(headers)
        # Names are tokens (checked above), so any CR or LF beyond one pair per line came from a value.
        if block.count("\n") != count or block.count("\r") != count or "\x00" in block:
            _reject(headers)
        body = request.body
        if body is not None:
            length = f"Content-Length: {len(body)}\r\n"
        elif method in _BODY_METHODS:
            length = "Content-Length: 0\r\n"
        else:
            length = ""
        head = f"{method}{target.line}{host_line}{block}{agent}{length}\r\n".encode()
        return (head + body if body else head), keep_alive

    async def _connect(self, pool: Pool, target: _Target, connect_timeout: float, deadline: float,
                       *, reuse: bool) -> Connection:
        """A connection to ``target``: one handed over by another request (if ``reuse``) or a new one."""
        loop = pool.loop
        key = target.key
        try:
            async with asyncio.timeout_at(deadline):  # queueing for a slot counts against the total only
                handed = await pool.acquire(key if reuse else None)
        except TimeoutError as exc:
            raise UpstreamTimeoutError("upstream timed out") from exc
        except ConnectionAbortedError as exc:
            raise UpstreamUnavailableError(f"upstream connection failed: {type(exc).__name__}") from exc
        if handed is not None:
            return handed
        context = None
        if target.tls:
            context = self._ssl
            if context is None:
                context = self._ssl = ssl.create_default_context()
        try:
            async with asyncio.timeout_at(min(deadline, loop.time() + connect_timeout)):
                _, conn = await loop.create_connection(
                    lambda: Connection(pool, key), target.host, target.port, ssl=context,
                    server_hostname=target.host if context is not None else None,
                )
        except BaseException as exc:
            pool.unreserve()
            if isinstance(exc, TimeoutError):
                raise UpstreamTimeoutError("upstream timed out") from exc
            if isinstance(exc, OSError):
                raise UpstreamUnavailableError(f"cannot connect to upstream {target.host}:{target.port}") from exc
            raise
        pool.adopt(conn)
        return conn


def _reject(headers: Mapping[str, str]) -> None:
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\x00" in value:
            raise UpstreamError(f"request header {name!r} contains CR, LF or NUL; refusing to send it")
    raise AssertionError("unreachable: a header was rejected without a reason")


async def _exchange(conn: Connection, data: bytes, is_head: bool, keep_alive: bool, read_timeout: float,
                    deadline: float) -> bool:
    """Write the request and wait for the response head. ``False``: ``conn`` was a pooled connection that failed
    before the upstream sent a byte (the request may be resent on a new one); it is closed."""
    conn.begin(is_head, keep_alive, read_timeout, deadline)
    written = conn.loop.time()
    if conn.exc is None:
        try:
            conn.transport.write(data)
        except (OSError, RuntimeError) as write_error:  # uvloop raises RuntimeError on a closing transport
            conn.exc = write_error
    try:
        while not conn.headers_done:
            failed = conn.exc
            if failed is not None:
                # Resent only when the failure came at once: a keep-alive connection the upstream had already
                # closed. One that fails later may have been working on the request (a billable completion), and
                # then the gateway's retry policy decides, visibly, as with a fresh connection.
                if (conn.requests > 1 and not conn.got_bytes and not isinstance(failed, TimeoutError)
                        and conn.loop.time() - written < STALE_WINDOW_S):
                    conn.abort()
                    return False
                raise _failure(conn) from failed
            await conn.wait()
    except BaseException:
        conn.abort()
        raise
    return True
