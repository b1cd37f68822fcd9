"""The coalescing HTTP protocol: one ``send`` per answer, and nothing lost or reordered on the way."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from switchyard.server.protocol import CoalescingProtocol, CoalescingTransport


class _Recorder(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0


async def test_writes_in_one_loop_turn_leave_as_one() -> None:
    raw = _Recorder()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(memoryview(b"body"))
    assert raw.writes == []
    assert transport.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\nbody")
    await asyncio.sleep(0)
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    transport.write(b"next")
    await asyncio.sleep(0)
    assert raw.writes[-1] == b"next"


async def test_close_flushes_what_was_written_first() -> None:
    raw = _Recorder()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n")
    transport.close()
    assert raw.writes == [b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n"]
    assert raw.closed
    await asyncio.sleep(0)  # the scheduled flush finds nothing left and writes nothing more
    assert len(raw.writes) == 1


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for i in range(3):
            await send({"type": "http.response.body", "body": b"part%d;" % i, "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    body = b"hello " + scope["path"].encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def server() -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(_app, http=CoalescingProtocol, lifespan="off", log_config=None, access_log=False)
    instance = uvicorn.Server(config)
    task = asyncio.ensure_future(instance.serve(sockets=[sock]))
    while not instance.started:  # noqa: ASYNC110 - uvicorn.Server sets a flag, it has no event to wait on
        await asyncio.sleep(0.01)
    yield port
    instance.should_exit = True
    await task


async def _exchange(port: int, raw: bytes, *, until: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    received = b""
    while until not in received:
        chunk = await asyncio.wait_for(reader.read(65536), 5)
        if not chunk:
            break
        received += chunk
    writer.close()
    return received


async def test_keep_alive_requests_get_whole_answers_in_order(server: int) -> None:
    pipelined = b"GET /one HTTP/1.1\r\nhost: x\r\n\r\nGET /two HTTP/1.1\r\nhost: x\r\n\r\n"
    received = await _exchange(server, pipelined, until=b"hello /two")
    assert received.index(b"hello /one") < received.index(b"hello /two")
    assert received.count(b"HTTP/1.1 200 OK") == 2


async def test_a_streamed_answer_arrives_chunk_by_chunk_and_complete(server: int) -> None:
    received = await _exchange(server, b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n", until=b"0\r\n\r\n")
    assert b"transfer-encoding: chunked" in received
    assert [p in received for p in (b"part0;", b"part1;", b"part2;")] == [True, True, True]
    assert received.endswith(b"0\r\n\r\n")


async def test_an_invalid_request_is_answered_before_the_connection_closes(server: int) -> None:
    received = await _exchange(server, b"NOT HTTP AT ALL\r\n\r\n", until=b"Invalid")
    assert received.startswith(b"HTTP/1.1 400")
