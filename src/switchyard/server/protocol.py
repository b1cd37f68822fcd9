"""uvicorn's httptools protocol, with a response's writes coalesced into one ``send`` system call.

ASGI sends a response as ``http.response.start`` and then its body, and uvicorn writes each to the socket as it
comes: two ``send`` calls per answer. On loopback and in VMs a ``send`` that wakes the peer is the most expensive
thing a request does (profiled at c=32: the header write alone was ~23 % of the serving process's samples, the
body write another ~6 %). :class:`CoalescingTransport` gathers every write made in one turn of the event loop and
hands them to the socket together at the end of that turn, so a whole non-streamed answer (and a stream's head
with its first event) goes out in one call. Nothing waits longer than the current loop turn.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["CoalescingProtocol", "CoalescingTransport"]


class CoalescingTransport:
    """Wraps a transport: ``write`` buffers until the loop turn ends; everything else is the transport's own."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._pending is None:
            self._pending = [bytes(data)]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def get_write_buffer_size(self) -> int:
        pending = sum(len(p) for p in self._pending) if self._pending else 0
        return pending + self._transport.get_write_buffer_size()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        # Whatever the protocol wrote before closing must still reach the client (a 4xx before "connection: close").
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingProtocol(HttpToolsProtocol):
    """``switchyard serve``'s HTTP protocol: uvicorn's httptools one over a :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport's interface without subclassing it.
        wrapped: Any = CoalescingTransport(cast(asyncio.Transport, transport), self.loop)
        super().connection_made(wrapped)
