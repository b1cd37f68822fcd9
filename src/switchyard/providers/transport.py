"""The one network seam: adapters send an :class:`UpstreamRequest` through a :class:`Transport` and get an
:class:`UpstreamResponse` back. The gateway's default is :class:`~.http1.Http1Transport` (a lean
HTTP/1.1 client on asyncio protocols: about a quarter of aiohttp's CPU per request, ``bench/transport.py``);
:class:`AiohttpTransport` here is aiohttp's client (which in turn proxies ~8x the requests per second of httpx on
this class of machine, see DESIGN.md). Tests may substitute any object with the same two methods.

Network failures are mapped here, at the boundary, into the error tree: timeouts into
``UpstreamTimeoutError``, refused/reset connections and broken bodies into ``UpstreamUnavailableError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp

from ..config import Timeouts
from ..errors import UpstreamError, UpstreamTimeoutError, UpstreamUnavailableError

__all__ = ["AiohttpTransport", "Transport", "UpstreamRequest", "UpstreamResponse"]


@dataclass(slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None
    timeout: Timeouts = field(default_factory=Timeouts)


class UpstreamResponse(Protocol):
    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def read(self) -> bytes: ...

    def iter_chunks(self) -> AsyncIterator[bytes]: ...

    def close(self) -> None:
        """Release the connection (back to the pool if the body was fully read)."""


class Transport(Protocol):
    async def send(self, request: UpstreamRequest) -> UpstreamResponse: ...

    async def aclose(self) -> None: ...


def _map_network_error(exc: BaseException) -> UpstreamError:
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamTimeoutError("upstream timed out")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamUnavailableError(f"cannot connect to upstream {exc.host}:{exc.port}")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return UpstreamUnavailableError("upstream response body was cut off")
    return UpstreamUnavailableError(f"upstream connection failed: {type(exc).__name__}")


_NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


class _AiohttpResponse:
    __slots__ = ("_response",)

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except _NETWORK_ERRORS as exc:
            raise _map_network_error(exc) from exc

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except _NETWORK_ERRORS as exc:
            raise _map_network_error(exc) from exc

    def close(self) -> None:
        self._response.release()


class AiohttpTransport:
    """Pooled HTTP/1.1 client. Create it inside the event loop that will use it."""

    def __init__(self, *, limit: int = 1000, keepalive_timeout: float = 30.0) -> None:
        self._limit = limit
        self._keepalive = keepalive_timeout
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limit, limit_per_host=0, keepalive_timeout=self._keepalive, ttl_dns_cache=300
            )
            # Upstream responses are proxied, so the client must not second-guess them: no cookie jar,
            # no automatic raise on status.
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), raise_for_status=False
            )
        return self._session

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        t = request.timeout
        timeout = aiohttp.ClientTimeout(total=t.total, sock_connect=t.connect, sock_read=t.read)
        try:
            response = await self._get_session().request(
                request.method, request.url, headers=request.headers, data=request.body, timeout=timeout
            )
        except _NETWORK_ERRORS as exc:
            raise _map_network_error(exc) from exc
        return _AiohttpResponse(response)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
