"""The bare baseline: the thinnest honest proxy, against which the gateway's overhead is measured.

An aiohttp server whose one route forwards the request body to the upstream's ``/v1/chat/completions``
through one pooled aiohttp client session and returns the upstream body and status (relaying streams as they
arrive). It parses nothing and validates nothing: whatever the gateway spends beyond this is what its
pipeline costs. (DESIGN.md's "aiohttp server + aiohttp client" row, the baseline the core issue names.)

``--client http1`` forwards through the gateway's own upstream client (``switchyard.providers.http1``) instead:
the gateway's default client is cheaper than aiohttp's, so this is the stricter baseline, measured for information
(``bench/run.py --passthrough-client http1``).

Run: ``python bench/passthrough.py --upstream http://127.0.0.1:8100 --port 8200 [--client http1]``
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import aiohttp
import uvloop
from aiohttp import web

from switchyard.providers.http1 import Http1Transport
from switchyard.providers.transport import UpstreamRequest

_UPSTREAM = web.AppKey("upstream", str)
_SESSION = web.AppKey("session", aiohttp.ClientSession)
_HTTP1 = web.AppKey("http1", Http1Transport)
# Forwarded as the gateway forwards them: the credential and the content type, nothing else.
_FORWARDED = ("authorization", "content-type")


async def _forward(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    headers = {name: value for name in _FORWARDED if (value := request.headers.get(name)) is not None}
    session = request.app[_SESSION]
    async with session.post(request.app[_UPSTREAM] + "/v1/chat/completions", data=body, headers=headers) as up:
        if up.content_type != "text/event-stream":
            return web.Response(body=await up.read(), status=up.status, content_type=up.content_type)
        # A stream is relayed chunk by chunk as it arrives, as the gateway relays it.
        response = web.StreamResponse(status=up.status, headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        async for chunk in up.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response


async def _forward_http1(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    headers = {name: value for name in _FORWARDED if (value := request.headers.get(name)) is not None}
    upstream = UpstreamRequest("POST", request.app[_UPSTREAM] + "/v1/chat/completions", headers, body)
    up = await request.app[_HTTP1].send(upstream)
    try:
        content_type = up.headers.get("content-type", "application/json")
        if not content_type.startswith("text/event-stream"):
            return web.Response(body=await up.read(), status=up.status, headers={"content-type": content_type})
        response = web.StreamResponse(status=up.status, headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        async for chunk in up.iter_chunks():
            await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        up.close()


async def _health(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type="application/json")


def make_app(upstream: str, client: str = "aiohttp") -> web.Application:
    app = web.Application()
    app[_UPSTREAM] = upstream.rstrip("/")
    if client == "http1":
        async def transport_context(app: web.Application) -> AsyncIterator[None]:
            app[_HTTP1] = Http1Transport()
            yield
            await app[_HTTP1].aclose()

        app.cleanup_ctx.append(transport_context)
        app.router.add_post("/v1/chat/completions", _forward_http1)
    else:
        async def session_context(app: web.Application) -> AsyncIterator[None]:
            # Same pool shape as the gateway's transport: unlimited per host, keep-alive, no cookie jar.
            connector = aiohttp.TCPConnector(limit=1000, limit_per_host=0, keepalive_timeout=30.0)
            app[_SESSION] = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
            yield
            await app[_SESSION].close()

        app.cleanup_ctx.append(session_context)
        app.router.add_post("/v1/chat/completions", _forward)
    app.router.add_get("/health", _health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--upstream", required=True, help="simulator base URL, e.g. http://127.0.0.1:8100")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client", choices=["aiohttp", "http1"], default="aiohttp")
    args = parser.parse_args()
    # uvloop, as the gateway and the simulator use: the event loop stays out of the comparison.
    web.run_app(
        make_app(args.upstream, args.client), host=args.host, port=args.port, access_log=None, print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
