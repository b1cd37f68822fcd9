"""``Http1Transport`` against real local servers on 127.0.0.1: the aiohttp upstream of ``test_transport.py`` and
small raw asyncio servers written to misbehave on purpose (interim responses, idle closes, gzip, bodies until
close). Connection reuse and leaks are measured as the server sees them: the client ports of requests and of
connections it saw close.

``AiohttpTransport``'s behavioural tests are imported and run over both transports (``transport`` below is
parametrized); so are the new tests of behaviour both must share. A few scenarios run again under uvloop, the loop
the gateway serves on.
"""

from __future__ import annotations

import asyncio
import datetime
import gc
import ipaddress
import socket
import ssl
import tempfile
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvloop
from tests.providers import test_transport as shared
from tests.providers.test_transport import CHUNKS, read_all, stream_all

import switchyard.providers.http1 as http1_module
from switchyard.config import Timeouts
from switchyard.errors import UpstreamError, UpstreamTimeoutError, UpstreamUnavailableError
from switchyard.providers.http1 import Http1Transport, _parse_url
from switchyard.providers.transport import AiohttpTransport, Transport, UpstreamRequest

TRANSPORTS: dict[str, Callable[[], Transport]] = {"aiohttp": AiohttpTransport, "http1": Http1Transport}

# AiohttpTransport's behavioural tests, collected here again to run over both transports (``transport`` below).
upstream = shared.upstream
test_request_and_response = shared.test_request_and_response
test_streamed_body = shared.test_streamed_body
test_error_status_is_returned_not_raised = shared.test_error_status_is_returned_not_raised
test_connection_is_reused = shared.test_connection_is_reused
test_an_abandoned_stream_does_not_poison_the_pool = shared.test_an_abandoned_stream_does_not_poison_the_pool
test_concurrent_requests_use_separate_connections = shared.test_concurrent_requests_use_separate_connections
test_read_timeout_before_headers = shared.test_read_timeout_before_headers
test_read_timeout_between_chunks = shared.test_read_timeout_between_chunks
test_read_timeout_on_whole_body = shared.test_read_timeout_on_whole_body
test_total_timeout_bounds_a_stream_that_never_ends = shared.test_total_timeout_bounds_a_stream_that_never_ends
test_cut_body_is_unavailable = shared.test_cut_body_is_unavailable
test_connection_refused_is_unavailable = shared.test_connection_refused_is_unavailable


@pytest.fixture(params=list(TRANSPORTS))
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[Transport]:
    t = TRANSPORTS[request.param]()
    try:
        yield t
    finally:
        await t.aclose()


@pytest.fixture
async def http1() -> AsyncIterator[Http1Transport]:
    async with open_http1() as t:
        yield t


@asynccontextmanager
async def open_http1(**options: Any) -> AsyncIterator[Http1Transport]:
    t = Http1Transport(**options)
    try:
        yield t
    finally:
        await t.aclose()


# -- a raw upstream -------------------------------------------------------------------------------------------


@dataclass
class Seen:
    port: int
    head: str
    body: bytes


class Peer:
    """One connection as the server sees it."""

    def __init__(self, server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.port: int = writer.get_extra_info("peername")[1]

    async def request(self) -> Seen | None:
        """The next request on this connection; ``None`` when the client closed it."""
        try:
            head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        seen = Seen(self.port, head, await self.reader.readexactly(length) if length else b"")
        self.server.requests.append(seen)
        self.server.changed.set()
        return seen

    async def closed_by_client(self) -> None:
        while await self.reader.read(65536):
            pass


Handler = Callable[[Peer], Awaitable[None]]


class RawServer:
    """A TCP (or TLS) server on a free port; ``handler`` runs once per connection."""

    def __init__(self, handler: Handler, *, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.host = host
        self.tls = tls
        self.requests: list[Seen] = []
        self.connected: list[int] = []
        self.closed: list[int] = []
        """Client ports of connections that ended (either side closing)."""
        self.changed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._peers: list[Peer] = []

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, self.host, 0, ssl=self.tls)
        self.port: int = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for peer in self._peers:
            peer.writer.transport.abort()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def url(self, path: str = "/", scheme: str = "http") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}{path}"

    @property
    def ports(self) -> list[int]:
        return [seen.port for seen in self.requests]

    @property
    def open(self) -> int:
        return len(self.connected) - len(self.closed)

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(5):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        peer = Peer(self, reader, writer)
        self._peers.append(peer)
        self.connected.append(peer.port)
        try:
            await self.handler(peer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            pass  # the server is stopping; a cancelled connection task would make asyncio log an error
        finally:
            writer.close()
            self.closed.append(peer.port)
            self.changed.set()
            self._tasks.discard(task)


def answer(body: bytes = b"ok", status: str = "200 OK", headers: tuple[str, ...] = (), *, length: bool = True) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def head_then_stall(peer: Peer) -> None:
    """Answers with a chunked head and never sends the body: a response that stays unfinished."""
    await peer.request()
    peer.writer.write(answer(b"", headers=("Transfer-Encoding: chunked",), length=False))
    await peer.closed_by_client()


def keep_answering(respond: Callable[[Seen], bytes] = lambda seen: answer()) -> Handler:
    async def handler(peer: Peer) -> None:
        while (seen := await peer.request()) is not None:
            peer.writer.write(respond(seen))

    return handler


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def req(method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None,
        **timeouts: float) -> UpstreamRequest:
    return UpstreamRequest(method, url, headers or {}, body, Timeouts(**timeouts))


def busy(transport: Http1Transport) -> int:
    """Connections in the middle of an exchange: none may be left once every response is closed."""
    pool = transport._pool
    return 0 if pool is None else sum(conn.active for conn in pool._conns)


# -- requests as written ----------------------------------------------------------------------------------------


async def test_request_head_is_sent_as_given(http1: Http1Transport) -> None:
    async with RawServer(keep_answering()) as server:
        headers = {"Authorization": "Bearer k", "x-custom": "a  b"}
        url = server.url("/v1/a%2Fb/ü?x=1&y=%20z&x=2#fragment")
        assert await read_all(await http1.send(req("POST", url, headers, b'{"a": 1}'))) == b"ok"
        assert await read_all(await http1.send(req("GET", server.url("?q"), {}))) == b"ok"
        assert await read_all(await http1.send(req("post", server.url(""), {}))) == b"ok"
    post, bare, empty = (seen.head.split("\r\n")[:-2] for seen in server.requests)
    host = f"Host: 127.0.0.1:{server.port}"
    assert post == ["POST /v1/a%2Fb/%C3%BC?x=1&y=%20z&x=2 HTTP/1.1", host, "Authorization: Bearer k",
                    "x-custom: a  b", "User-Agent: switchyard", "Content-Length: 8"]
    assert bare == ["GET /?q HTTP/1.1", host, "User-Agent: switchyard"]  # no accept-encoding: answers are identity
    assert empty == ["POST / HTTP/1.1", host, "User-Agent: switchyard", "Content-Length: 0"]  # method upper-cased
    assert server.requests[0].body == b'{"a": 1}'


async def test_caller_host_agent_and_framing_headers(http1: Http1Transport) -> None:
    async with RawServer(keep_answering()) as server:
        headers = {"host": "api.example", "User-Agent": "sdk/1", "content-length": "99", "Transfer-Encoding": "x"}
        await read_all(await http1.send(req("POST", server.url("/"), headers, b"abc")))
    assert server.requests[0].head.split("\r\n")[:-2] == [
        "POST / HTTP/1.1", "host: api.example", "User-Agent: sdk/1", "Content-Length: 3"
    ]


@pytest.mark.parametrize(
    "headers",
    [{"x-key": "s3cr3t\r\nx-injected: 1"}, {"x-key": "s3cr3t\nx"}, {"x-key": "s3cr3t\rx"}, {"x-key": "s3cr3t\x00"},
     {"x-key\r\nx": "s3cr3t"}, {"x key": "s3cr3t"}, {"x:key": "s3cr3t"}, {"": "s3cr3t"}],
)
async def test_header_injection_is_refused(http1: Http1Transport, headers: dict[str, str]) -> None:
    async with RawServer(keep_answering()) as server:
        with pytest.raises(UpstreamError, match="refusing to send it") as caught:
            await http1.send(req("GET", server.url(), {"x-fine": "1", **headers}))
    assert "s3cr3t" not in str(caught.value)
    assert server.connected == []


async def test_a_method_that_is_not_a_token_is_refused(http1: Http1Transport) -> None:
    with pytest.raises(UpstreamError, match="method is not a valid HTTP token"):
        await http1.send(req("GET / HTTP/1.1\r\nX:", "http://127.0.0.1:9/"))


@pytest.mark.parametrize(
    ("url", "key", "line", "host"),
    [
        ("http://Example.COM", ("http", "example.com", 80), " / HTTP/1.1\r\n", "Host: example.com\r\n"),
        ("https://example.com:443/v1?x=1", ("https", "example.com", 443), " /v1?x=1 HTTP/1.1\r\n",
         "Host: example.com\r\n"),
        ("https://example.com:8443?x", ("https", "example.com", 8443), " /?x HTTP/1.1\r\n",
         "Host: example.com:8443\r\n"),
        ("http://[::1]:8080/a#b", ("http", "::1", 8080), " /a HTTP/1.1\r\n", "Host: [::1]:8080\r\n"),
        ("http://[2001:db8::1]/", ("http", "2001:db8::1", 80), " / HTTP/1.1\r\n", "Host: [2001:db8::1]\r\n"),
        ("http://bücher.example/ä", ("http", "xn--bcher-kva.example", 80), " /%C3%A4 HTTP/1.1\r\n",
         "Host: xn--bcher-kva.example\r\n"),
    ],
)
def test_urls(url: str, key: tuple[str, str, int], line: str, host: str) -> None:
    target = _parse_url(url)
    assert (target.key, target.line, target.host_line) == (key, line, host)
    assert target.tls == (key[0] == "https")


@pytest.mark.parametrize("url", ["ftp://h/", "h/x", "http://u:secret@h/", "http://h:0/", "http://h:x/", "http:///x",
                                 "http://h/a b", "http://h/a\r\nx: y"])
def test_bad_urls_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(UpstreamError) as caught:
        _parse_url(url)
    assert "secret" not in str(caught.value)
    assert "/a" not in str(caught.value)


async def test_ipv6_literal(transport: Transport) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    async with RawServer(keep_answering(), host="::1") as server:
        assert await read_all(await transport.send(req("GET", server.url("/six")))) == b"ok"
    assert f"\r\nHost: [::1]:{server.port}\r\n" in server.requests[0].head


# -- responses ---------------------------------------------------------------------------------------------------


async def test_bodies_by_length_chunked_and_until_close(transport: Transport) -> None:
    answers = iter([answer(b"length"),
                    answer(chunked(b"chun", b"ked"), headers=("Transfer-Encoding: chunked",), length=False),
                    answer(b"until close", headers=("Connection: close",), length=False)])

    async def handler(peer: Peer) -> None:
        while await peer.request() is not None:
            data = next(answers)
            peer.writer.write(data)
            if b"close" in data:
                return

    async with RawServer(handler) as server:
        assert await read_all(await transport.send(req("GET", server.url()))) == b"length"
        assert await stream_all(await transport.send(req("GET", server.url()))) == b"chunked"
        assert await read_all(await transport.send(req("GET", server.url()))) == b"until close"
        await server.until(lambda: len(server.closed) == 1)
    assert len(set(server.ports)) == 1


async def test_responses_without_a_body(transport: Transport) -> None:
    announced = ("Content-Length: 10",)
    answers = {"/204": answer(b"", "204 No Content", length=False),
               "/304": answer(b"", "304 Not Modified", announced, length=False),
               "/head": answer(b"", headers=announced, length=False)}
    async with RawServer(keep_answering(lambda seen: answers[seen.head.split()[1]])) as server:
        for method, path in [("GET", "/204"), ("GET", "/304"), ("GET", "/204"), ("HEAD", "/head")]:
            response = await transport.send(req(method, server.url(path), read=2))
            assert await read_all(response) == b""
        assert await read_all(await transport.send(req("GET", server.url("/204")))) == b""
    assert len(set(server.ports[:4])) == 1, "a response without a body leaves the connection reusable"


async def test_interim_responses_are_skipped(transport: Transport) -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
    final = answer(b"final", "201 Created", ("X-Final: yes",))
    async with RawServer(keep_answering(lambda seen: interim + final)) as server:
        for _ in range(2):
            response = await transport.send(req("POST", server.url(), {}, b"x"))
            assert (response.status, response.headers["x-final"], "link" in response.headers) == (201, "yes", False)
            assert await read_all(response) == b"final"
    assert len(set(server.ports)) == 1


async def test_headers_are_a_case_insensitive_mapping(http1: Http1Transport) -> None:
    headers = ("Set-Cookie: a=1", "X-Multi: one", "set-cookie: b=2", "X-Spaced:   padded  ", "Retry-After: 7",
               "retry-after: 9")
    async with RawServer(keep_answering(lambda seen: answer(headers=headers))) as server:
        response = await http1.send(req("GET", server.url()))
        await read_all(response)
    assert response.headers["SET-COOKIE"] == "a=1, b=2"
    assert response.headers.get("x-multi") == "one"
    assert response.headers["x-spaced"] == "padded"
    assert response.headers["retry-after"] == "7"  # one value by nature: the first, not "7, 9"
    assert "content-length" in response.headers
    assert "x-absent" not in response.headers
    assert dict(response.headers) == {"set-cookie": "a=1, b=2", "x-multi": "one", "x-spaced": "padded",
                                      "retry-after": "7", "content-length": "2"}


@pytest.mark.parametrize(("encoding", "compress"), [
    ("gzip", lambda data: zlib.compress(data, wbits=31)),
    ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data, wbits=-15)),  # raw deflate, as some servers send it
])
async def test_compressed_answers_are_decoded(transport: Transport, encoding: str,
                                              compress: Callable[[bytes], bytes]) -> None:
    plain = b'{"text": "%s"}' % (b"squeeze me " * 2000)
    packed = compress(plain)
    half = len(packed) // 2
    answers = iter([
        answer(packed, headers=(f"Content-Encoding: {encoding}",)),
        answer(chunked(packed[:half], packed[half:]), length=False,
               headers=(f"content-encoding: {encoding.upper()}", "Transfer-Encoding: chunked")),
    ])
    async with RawServer(keep_answering(lambda seen: next(answers))) as server:
        first = await transport.send(req("GET", server.url()))
        assert await read_all(first) == plain
        assert await stream_all(await transport.send(req("GET", server.url()))) == plain
    if isinstance(transport, Http1Transport):
        assert "content-encoding" not in first.headers
        assert "content-length" not in first.headers


async def test_a_stream_is_delivered_as_it_arrives(transport: Transport) -> None:
    received = asyncio.Event()

    async def handler(peer: Peer) -> None:
        await peer.request()
        peer.writer.write(answer(b"", headers=("Transfer-Encoding: chunked",), length=False))
        peer.writer.write(b"%x\r\n%s\r\n" % (len(CHUNKS[0]), CHUNKS[0]))
        await received.wait()  # the last chunk is only sent once the client has the first
        peer.writer.write(chunked(*CHUNKS[1:]))
        await peer.closed_by_client()

    async with RawServer(handler) as server:
        response = await transport.send(req("GET", server.url(), read=5))
        chunks = []
        async for chunk in response.iter_chunks():
            chunks.append(chunk)
            received.set()
        response.close()
    assert chunks[0] == CHUNKS[0]
    assert b"".join(chunks) == b"".join(CHUNKS)


async def test_large_bodies_both_ways(http1: Http1Transport) -> None:
    big = bytes(range(256)) * 16384  # 4 MiB

    async def handler(peer: Peer) -> None:
        while (seen := await peer.request()) is not None:
            peer.writer.write(answer(seen.body[::-1]))
            await peer.writer.drain()

    async with RawServer(handler) as server:
        assert await read_all(await http1.send(req("POST", server.url(), {}, big))) == big[::-1]
        response = await http1.send(req("POST", server.url(), {}, big))
        pieces = []
        async for piece in response.iter_chunks():
            pieces.append(piece)
            await asyncio.sleep(0.001)  # a slow reader: the client pauses reading instead of buffering it all
        response.close()
        assert b"".join(pieces) == big[::-1]
        assert await read_all(await http1.send(req("POST", server.url(), {}, b"again"))) == b"niaga"
    assert len(set(server.ports)) == 1


async def test_a_malformed_response_is_unavailable(transport: Transport) -> None:
    async with RawServer(keep_answering(lambda seen: b"SMTP ready\r\n\r\n")) as server:
        with pytest.raises(UpstreamUnavailableError, match="upstream connection failed"):
            await transport.send(req("GET", server.url()))


# -- the pool -----------------------------------------------------------------------------------------------------


async def test_connection_close_is_honoured_both_ways(http1: Http1Transport) -> None:
    respond = {"/close": answer(headers=("Connection: close",)), "/": answer()}
    async with RawServer(keep_answering(lambda seen: respond[seen.head.split()[1]])) as server:
        for path, headers in [("/close", {}), ("/", {"Connection": "close"}), ("/", {}), ("/", {})]:
            await read_all(await http1.send(req("GET", server.url(path), headers)))
        await server.until(lambda: len(server.closed) == 2)
    first, second, third, fourth = server.ports
    assert len({first, second, third}) == 3
    assert third == fourth


async def test_a_pooled_connection_closed_by_the_server_is_retried_once(http1: Http1Transport) -> None:
    # AiohttpTransport does not do this (it raises UpstreamUnavailableError and the gateway's retry policy decides).
    async def one_answer_per_connection(peer: Peer) -> None:
        await peer.request()
        peer.writer.write(answer())
        await peer.request()  # the server drops the next request unanswered, as one closing an idle connection

    async with RawServer(one_answer_per_connection) as server:
        for _ in range(3):
            assert await read_all(await http1.send(req("POST", server.url(), {}, b"body"))) == b"ok"
    assert len(server.requests) == 5
    assert len(set(server.ports)) == 3


async def test_a_pooled_connection_that_fails_late_is_not_resent(
    http1: Http1Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure long after the write may come from an upstream that worked on the request: no silent resend."""
    monkeypatch.setattr(http1_module, "STALE_WINDOW_S", 0.05)

    async def answer_then_die_slowly(peer: Peer) -> None:
        await peer.request()
        peer.writer.write(answer())
        await peer.request()
        await asyncio.sleep(0.2)  # "generating", then the process dies without a byte

    async with RawServer(answer_then_die_slowly) as server:
        assert await read_all(await http1.send(req("POST", server.url(), {}, b"body"))) == b"ok"
        with pytest.raises(UpstreamUnavailableError):
            await http1.send(req("POST", server.url(), {}, b"body"))
    assert len(server.requests) == 2


async def test_a_new_connection_is_not_retried(http1: Http1Transport) -> None:
    async def drop(peer: Peer) -> None:
        await peer.request()

    async with RawServer(drop) as server:
        with pytest.raises(UpstreamUnavailableError, match="upstream connection failed: ServerDisconnectedError"):
            await http1.send(req("POST", server.url(), {}, b"body"))
    assert len(server.requests) == 1


async def test_an_idle_connection_the_server_closed_is_not_reused(transport: Transport) -> None:
    async def close_when_idle(peer: Peer) -> None:
        await peer.request()
        peer.writer.write(answer())

    async with RawServer(close_when_idle) as server:
        await read_all(await transport.send(req("GET", server.url())))
        await server.until(lambda: len(server.closed) == 1)
        await asyncio.sleep(0.01)  # the FIN reaches the client's event loop
        assert await read_all(await transport.send(req("GET", server.url()))) == b"ok"
    assert len(server.requests) == 2
    assert len(set(server.ports)) == 2


async def test_idle_connections_expire() -> None:
    async with RawServer(keep_answering()) as server, open_http1(keepalive_timeout=0.05) as http1:
        await read_all(await http1.send(req("GET", server.url())))
        await server.until(lambda: len(server.closed) == 1)  # closed by the client, the server never does
        await read_all(await http1.send(req("GET", server.url())))
        await read_all(await http1.send(req("GET", server.url())))
    first, second, third = server.ports
    assert first != second == third


async def test_the_limit_queues_requests_in_order() -> None:
    go = asyncio.Event()
    most = 0

    async def slow(peer: Peer) -> None:
        nonlocal most
        while await peer.request() is not None:
            most = max(most, server.open)
            await go.wait()
            peer.writer.write(answer())

    async with RawServer(slow) as server, open_http1(limit=1) as http1:
        tasks = []
        for name in "abcd":
            tasks.append(asyncio.create_task(_fetch(http1, server.url(f"/{name}"))))
            await asyncio.sleep(0)  # each reaches the queue before the next starts
        await server.until(lambda: len(server.requests) == 1)
        go.set()
        assert await asyncio.gather(*tasks) == [b"ok"] * 4
    assert [seen.head.split()[1] for seen in server.requests] == ["/a", "/b", "/c", "/d"]
    assert most == 1
    assert len(set(server.ports)) == 1


async def _fetch(transport: Transport, url: str) -> bytes:
    return await read_all(await transport.send(req("GET", url)))


async def test_the_limit_counts_every_origin() -> None:
    async with RawServer(keep_answering()) as one, RawServer(keep_answering()) as two, open_http1(limit=1) as http1:
        await _fetch(http1, one.url())
        await _fetch(http1, two.url())  # the idle connection to `one` makes room
        await one.until(lambda: len(one.closed) == 1)
        await _fetch(http1, two.url())
    assert len(set(two.ports)) == 1


async def test_a_request_cancelled_in_the_queue_leaves_it() -> None:
    go = asyncio.Event()

    async def slow(peer: Peer) -> None:
        while await peer.request() is not None:
            await go.wait()
            peer.writer.write(answer())

    async with RawServer(slow) as server, open_http1(limit=1) as http1:
        first = asyncio.create_task(_fetch(http1, server.url("/first")))
        await server.until(lambda: len(server.requests) == 1)
        queued = asyncio.create_task(_fetch(http1, server.url("/cancelled")))
        await asyncio.sleep(0)
        queued.cancel()
        last = asyncio.create_task(_fetch(http1, server.url("/last")))
        await asyncio.sleep(0)
        go.set()
        assert await first == await last == b"ok"
        with pytest.raises(asyncio.CancelledError):
            await queued
        assert busy(http1) == 0
    assert [seen.head.split()[1] for seen in server.requests] == ["/first", "/last"]


async def test_waiting_for_the_pool_is_bounded_by_the_total_timeout() -> None:
    async def stall(peer: Peer) -> None:
        await peer.request()
        await peer.closed_by_client()

    async with RawServer(stall) as server, open_http1(limit=1) as http1:
        first = asyncio.create_task(http1.send(req("GET", server.url())))
        await server.until(lambda: len(server.requests) == 1)
        with pytest.raises(UpstreamTimeoutError):
            await http1.send(req("GET", server.url(), total=0.1))
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first


# -- cancellation, timeouts, closing ------------------------------------------------------------------------------


async def test_cancellation_closes_the_connection(http1: Http1Transport) -> None:
    first_chunk = answer(b"", headers=("Transfer-Encoding: chunked",), length=False) + b"5\r\nfirst\r\n"

    async def stall_after_first_chunk(peer: Peer) -> None:
        while (seen := await peer.request()) is not None:
            if seen.head.startswith("GET /ok "):
                peer.writer.write(answer())
                continue
            if seen.head.startswith("GET /body "):
                peer.writer.write(first_chunk)
            await peer.closed_by_client()

    async with RawServer(stall_after_first_chunk) as server:
        started = asyncio.Event()

        async def consume(path: str) -> None:
            response = await http1.send(req("GET", server.url(path)))
            try:
                async for _ in response.iter_chunks():
                    started.set()
            finally:
                response.close()

        await _fetch(http1, server.url("/ok"))
        for path in ("/head", "/body"):  # cancelled while waiting for the head, then for the body
            task = asyncio.create_task(consume(path))
            if path == "/body":
                await started.wait()
            else:
                await server.until(lambda: len(server.requests) == 2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await server.until(lambda: server.open == 0)
            assert busy(http1) == 0
        await _fetch(http1, server.url("/ok"))
    assert len(set(server.ports)) == 3, "a cancelled exchange's connection is never reused"


async def test_the_read_timeout_bounds_each_wait_on_a_reused_connection(http1: Http1Transport) -> None:
    async def handler(peer: Peer) -> None:
        while (seen := await peer.request()) is not None:
            path = seen.head.split()[1]
            if path == "/trickle":
                peer.writer.write(answer(b"", headers=("Transfer-Encoding: chunked",), length=False))
                for _ in range(6):
                    await asyncio.sleep(0.05)  # the peer's pace: 0.3 s in all, never 0.2 s without a byte
                    peer.writer.write(b"1\r\nx\r\n")
                peer.writer.write(b"0\r\n\r\n")
            elif path == "/stall":
                await peer.closed_by_client()
            else:
                peer.writer.write(answer())

    async with RawServer(handler) as server:
        loop = asyncio.get_running_loop()
        await _fetch(http1, server.url("/"))  # the default read timeout, 120 s
        assert await read_all(await http1.send(req("GET", server.url("/trickle"), read=0.2))) == b"x" * 6
        started = loop.time()
        with pytest.raises(UpstreamTimeoutError):
            await http1.send(req("GET", server.url("/stall"), read=0.1))
        assert loop.time() - started < 1
    assert len(set(server.ports)) == 1


async def test_a_forgotten_response_gives_its_connection_back(http1: Http1Transport) -> None:
    async with RawServer(head_then_stall) as server:
        response = await http1.send(req("GET", server.url()))
        assert busy(http1) == 1
        del response
        gc.collect()
        await server.until(lambda: server.open == 0)
        assert busy(http1) == 0


async def test_connect_timeout_covers_the_tls_handshake(http1: Http1Transport) -> None:
    async def silent(peer: Peer) -> None:
        await peer.closed_by_client()

    async with RawServer(silent) as server:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(UpstreamTimeoutError):
            await http1.send(req("GET", server.url("/", "https"), connect=0.2))
        assert loop.time() - started < 2
        await server.until(lambda: server.open == 0)


async def test_aclose_closes_pooled_connections_and_the_transport_reopens(transport: Transport) -> None:
    async with RawServer(keep_answering()) as server:
        await transport.aclose()  # never used: nothing to close
        await _fetch(transport, server.url())
        await transport.aclose()
        await transport.aclose()
        await server.until(lambda: server.open == 0)
        await _fetch(transport, server.url())
    assert len(server.requests) == 2
    assert server.ports[0] != server.ports[1]


async def test_aclose_ends_responses_in_flight(http1: Http1Transport) -> None:
    async with RawServer(head_then_stall) as server:
        response = await http1.send(req("GET", server.url()))
        await http1.aclose()
        with pytest.raises(UpstreamUnavailableError, match="cut off"):
            await read_all(response)
        await server.until(lambda: server.open == 0)


async def test_aclose_cuts_a_body_delimited_by_the_end_of_the_connection(http1: Http1Transport) -> None:
    # A body without length or chunking ends when the upstream closes; the client closing it is no such end.
    async def stall(peer: Peer) -> None:
        await peer.request()
        peer.writer.write(answer(b"partial", headers=("Connection: close",), length=False))
        await peer.closed_by_client()

    async with RawServer(stall) as server:
        response = await http1.send(req("GET", server.url()))
        chunks = response.iter_chunks()
        assert await anext(chunks) == b"partial"
        reading = asyncio.ensure_future(anext(chunks))
        await asyncio.sleep(0)  # the reader waits for more when the transport closes under it
        await http1.aclose()
        with pytest.raises(UpstreamUnavailableError, match="cut off"):
            await reading
        response.close()
        await server.until(lambda: server.open == 0)


# -- TLS ----------------------------------------------------------------------------------------------------------


def _certificates(directory: Path) -> tuple[Path, Path, bytes]:
    """A CA and a server certificate for localhost and 127.0.0.1 signed by it: (cert, key, CA PEM)."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def build(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey,
              ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                              key_encipherment=False, data_encipherment=False, key_agreement=False,
                              encipher_only=False, decipher_only=False), critical=True)
            builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = build("test CA", ca_key, "test CA", ca_key, True)
    cert = build("localhost", key, "test CA", ca_key, False)
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return directory / "cert.pem", directory / "key.pem", ca.public_bytes(serialization.Encoding.PEM)


async def test_tls() -> None:
    with tempfile.TemporaryDirectory() as directory:
        cert, key, ca = _certificates(Path(directory))
        server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_context.load_cert_chain(cert, key)
        names: list[str | None] = []
        server_context.sni_callback = lambda sock, name, context: names.append(name)
        trusting = ssl.create_default_context(cadata=ca.decode())
        async with RawServer(keep_answering(), tls=server_context) as server:
            async with open_http1(ssl_context=trusting) as http1:
                for _ in range(3):
                    assert await _fetch(http1, f"https://localhost:{server.port}/secure?x=1") == b"ok"
                assert await _fetch(http1, server.url("/by-ip", "https")) == b"ok"
            async with open_http1() as untrusting:  # the system's CAs: the test CA is not among them
                refused = f"cannot connect to upstream localhost:{server.port}"
                with pytest.raises(UpstreamUnavailableError, match=refused):
                    await _fetch(untrusting, f"https://localhost:{server.port}/")
    assert names[0] == "localhost"  # SNI; none is sent for an IP address
    assert [seen.head.split()[1] for seen in server.requests] == ["/secure?x=1"] * 3 + ["/by-ip"]
    assert f"\r\nHost: localhost:{server.port}\r\n" in server.requests[0].head
    assert len(set(server.ports[:3])) == 1


# -- under uvloop -------------------------------------------------------------------------------------------------


async def _with_http1(test: Callable[[Http1Transport], Awaitable[None]]) -> None:
    async with open_http1() as http1:
        await test(http1)


UVLOOP_CASES: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
    "request head": lambda: _with_http1(test_request_head_is_sent_as_given),
    "stream as it arrives": lambda: _with_http1(test_a_stream_is_delivered_as_it_arrives),
    "bodies": lambda: _with_http1(test_bodies_by_length_chunked_and_until_close),
    "large bodies": lambda: _with_http1(test_large_bodies_both_ways),
    "stale retry": lambda: _with_http1(test_a_pooled_connection_closed_by_the_server_is_retried_once),
    "cancellation": lambda: _with_http1(test_cancellation_closes_the_connection),
    "read timeout": lambda: _with_http1(test_the_read_timeout_bounds_each_wait_on_a_reused_connection),
    "aclose cuts a body until close": lambda: _with_http1(
        test_aclose_cuts_a_body_delimited_by_the_end_of_the_connection),
    "queue": test_the_limit_queues_requests_in_order,
    "tls": test_tls,
}


@pytest.mark.parametrize("case", list(UVLOOP_CASES))
def test_under_uvloop(case: str) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert isinstance(runner.get_loop(), uvloop.Loop)
        runner.run(UVLOOP_CASES[case]())

