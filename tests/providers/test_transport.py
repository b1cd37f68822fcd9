"""``AiohttpTransport``, the one network seam, against a tiny local aiohttp server whose handlers misbehave on
purpose. Connection reuse is measured as the server sees it: the client ports its requests came from."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from tests.conftest import SINGLE_SHOT

from switchyard import Gateway, parse_config
from switchyard.config import Timeouts
from switchyard.errors import UpstreamTimeoutError, UpstreamUnavailableError
from switchyard.providers.http1 import Http1Transport
from switchyard.providers.transport import AiohttpTransport, Transport, UpstreamRequest, UpstreamResponse
from switchyard.simulator import Simulator
from switchyard.types import ChatRequest, Message

CHUNKS = [b"data: one\n\n", b"data: two\n\n", b"data: three\n\n"]


@dataclass
class Upstream:
    base_url: str
    ports: list[int] = field(default_factory=list)
    """The client port of every request received, in order."""
    bodies: list[bytes] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    """Stalled handlers wait on this; set at teardown so the server stops promptly."""


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    state = Upstream("")

    @web.middleware
    async def track(request: web.Request, handler: Any) -> web.StreamResponse:
        assert request.transport is not None
        state.ports.append(request.transport.get_extra_info("peername")[1])
        state.bodies.append(await request.read())
        response: web.StreamResponse = await handler(request)
        return response

    async def json(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "method": request.method}, headers={"Retry-After": "3"})

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for chunk in CHUNKS:
            await response.write(chunk)
        await response.write_eof()
        return response

    async def error(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "nope"}}, status=int(request.match_info["status"]))

    async def stall(request: web.Request) -> web.Response:
        await state.release.wait()
        return web.json_response({"late": True})

    async def stall_body(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(CHUNKS[0])
        await state.release.wait()
        return response

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        while not state.release.is_set():
            await response.write(b": tick\n\n")
            await asyncio.sleep(0.02)  # the peer's pace, not synchronisation: it never finishes
        return response

    async def cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(CHUNKS[0])
        assert request.transport is not None
        request.transport.abort()
        return response

    app = web.Application(middlewares=[track])
    app.add_routes(
        [
            web.route("*", "/json", json),
            web.get("/stream", stream),
            web.get("/error/{status}", error),
            web.get("/stall", stall),
            web.get("/stall-body", stall_body),
            web.get("/trickle", trickle),
            web.get("/cut", cut),
        ]
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.base_url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        state.release.set()
        await runner.cleanup()


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    t = AiohttpTransport()
    try:
        yield t
    finally:
        await t.aclose()


def get(url: str, *, read: float = 10.0, total: float = 600.0) -> UpstreamRequest:
    return UpstreamRequest("GET", url, {}, None, Timeouts(read=read, total=total))


async def read_all(response: UpstreamResponse) -> bytes:
    try:
        return await response.read()
    finally:
        response.close()


async def stream_all(response: UpstreamResponse, into: list[bytes] | None = None) -> bytes:
    into = [] if into is None else into
    try:
        async for chunk in response.iter_chunks():
            into.append(chunk)
    finally:
        response.close()
    return b"".join(into)


async def test_request_and_response(upstream: Upstream, transport: AiohttpTransport) -> None:
    request = UpstreamRequest("POST", f"{upstream.base_url}/json", {"x-custom": "1"}, b'{"a": 1}')
    response = await transport.send(request)
    assert response.status == 200
    assert response.headers["retry-after"] == "3"
    assert response.headers["Retry-After"] == "3"
    assert await read_all(response) == b'{"ok": true, "method": "POST"}'
    assert upstream.bodies == [b'{"a": 1}']


async def test_streamed_body(upstream: Upstream, transport: AiohttpTransport) -> None:
    response = await transport.send(get(f"{upstream.base_url}/stream"))
    assert await stream_all(response) == b"".join(CHUNKS)


async def test_error_status_is_returned_not_raised(upstream: Upstream, transport: AiohttpTransport) -> None:
    response = await transport.send(get(f"{upstream.base_url}/error/503"))
    assert response.status == 503
    assert b"nope" in await read_all(response)


async def test_connection_is_reused(upstream: Upstream, transport: AiohttpTransport) -> None:
    for _ in range(3):
        await read_all(await transport.send(get(f"{upstream.base_url}/json")))
        await stream_all(await transport.send(get(f"{upstream.base_url}/stream")))
        await read_all(await transport.send(get(f"{upstream.base_url}/error/429")))
    assert len(upstream.ports) == 9
    assert len(set(upstream.ports)) == 1, f"expected one pooled connection, saw ports {upstream.ports}"


async def test_an_abandoned_stream_does_not_poison_the_pool(upstream: Upstream, transport: AiohttpTransport) -> None:
    # The control for the test above: the port count does notice a connection that cannot be reused.
    response = await transport.send(get(f"{upstream.base_url}/stall-body"))
    async for _ in response.iter_chunks():
        break
    response.close()
    await read_all(await transport.send(get(f"{upstream.base_url}/json")))
    await read_all(await transport.send(get(f"{upstream.base_url}/json")))
    first, second, third = upstream.ports
    assert first != second, "a half-read connection must not be handed to the next request"
    assert second == third


async def test_concurrent_requests_use_separate_connections(upstream: Upstream, transport: AiohttpTransport) -> None:
    responses = await asyncio.gather(*(transport.send(get(f"{upstream.base_url}/json")) for _ in range(4)))
    await asyncio.gather(*(read_all(r) for r in responses))
    assert len(set(upstream.ports)) == 4
    await read_all(await transport.send(get(f"{upstream.base_url}/json")))
    assert upstream.ports[-1] in set(upstream.ports[:4])


async def test_read_timeout_before_headers(upstream: Upstream, transport: AiohttpTransport) -> None:
    with pytest.raises(UpstreamTimeoutError) as caught:
        await transport.send(get(f"{upstream.base_url}/stall", read=0.1))
    assert caught.value.retryable
    assert caught.value.__cause__ is not None


async def test_read_timeout_between_chunks(upstream: Upstream, transport: AiohttpTransport) -> None:
    response = await transport.send(get(f"{upstream.base_url}/stall-body", read=0.1))
    received: list[bytes] = []
    with pytest.raises(UpstreamTimeoutError):
        await stream_all(response, received)
    assert received == [CHUNKS[0]]


async def test_read_timeout_on_whole_body(upstream: Upstream, transport: AiohttpTransport) -> None:
    response = await transport.send(get(f"{upstream.base_url}/stall-body", read=0.1))
    with pytest.raises(UpstreamTimeoutError):
        await read_all(response)


async def test_total_timeout_bounds_a_stream_that_never_ends(upstream: Upstream, transport: AiohttpTransport) -> None:
    response = await transport.send(get(f"{upstream.base_url}/trickle", read=5.0, total=0.3))
    with pytest.raises(UpstreamTimeoutError):
        await stream_all(response)


async def test_cut_body_is_unavailable(upstream: Upstream, transport: AiohttpTransport) -> None:
    with pytest.raises(UpstreamUnavailableError, match="cut off"):
        await read_all(await transport.send(get(f"{upstream.base_url}/cut")))
    received: list[bytes] = []
    with pytest.raises(UpstreamUnavailableError, match="cut off"):
        await stream_all(await transport.send(get(f"{upstream.base_url}/cut")), received)
    assert b"".join(received) in (b"", CHUNKS[0])


async def test_connection_refused_is_unavailable(transport: AiohttpTransport) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(UpstreamUnavailableError, match=f"cannot connect to upstream 127.0.0.1:{port}") as caught:
        await transport.send(get(f"http://127.0.0.1:{port}/json"))
    assert caught.value.retryable


async def test_aclose_is_idempotent_and_the_transport_reopens(upstream: Upstream) -> None:
    transport = AiohttpTransport()
    await transport.aclose()  # never used: nothing to close
    await read_all(await transport.send(get(f"{upstream.base_url}/json")))
    await transport.aclose()
    await transport.aclose()
    # A closed transport opens a fresh pool on next use (a new connection, as the server sees it).
    await read_all(await transport.send(get(f"{upstream.base_url}/json")))
    await transport.aclose()
    assert len(upstream.ports) == 2
    assert upstream.ports[0] != upstream.ports[1]


@pytest.mark.parametrize("make_transport", [AiohttpTransport, Http1Transport], ids=["aiohttp", "http1"])
async def test_adapters_leave_connections_reusable(make_transport: Callable[[], Transport]) -> None:
    """Through the OpenAI adapter against the simulator, with either transport: answers, streams read to their
    end and error responses all hand their connection back to the pool."""
    sim = Simulator()
    ports: list[int] = []

    @web.middleware
    async def track(request: web.Request, handler: Any) -> web.StreamResponse:
        assert request.transport is not None
        ports.append(request.transport.get_extra_info("peername")[1])
        response: web.StreamResponse = await handler(request)
        return response

    sim.app.middlewares.append(track)
    async with sim:
        config = parse_config(
            {
                "providers": {"p": {"type": "openai", "api_key": "k", "base_url": f"{sim.base_url}/v1"}},
                "models": {"m": {"provider": "p", "model": "gpt-4o-mini"}},
                "resilience": SINGLE_SHOT,
            }
        )
        question = [Message.user("one two three four five six seven eight")]
        request = ChatRequest(model="m", messages=question)
        async with Gateway(config, transport=make_transport()) as gateway:
            for _ in range(2):
                assert (await gateway.chat(request)).text
                async for _chunk in await gateway.stream(ChatRequest(model="m", messages=question, stream=True)):
                    pass
                sim.set_faults("openai", {"error_rate": 1.0})
                with pytest.raises(UpstreamUnavailableError):
                    await gateway.chat(request)
                sim.clear_faults()
    assert len(ports) == 6
    assert len(set(ports)) == 1, f"expected one pooled connection, saw ports {ports}"
