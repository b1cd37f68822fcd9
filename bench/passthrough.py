"""The bare baseline: the thinnest honest proxy, against which the gateway's overhead is measured.

An aiohttp server whose one route forwards the request body to the upstream's ``/v1/chat/completions``
through one pooled aiohttp client session and returns the upstream body and status (relaying streams as they
arrive). It parses nothing and validates nothing: whatever the gateway spends beyond this is what its
pipeline costs. (DESIGN.md's "aiohttp server + aiohttp client" row.)

Run: ``python bench/passthrough.py --upstream http://127.0.0.1:8100 --port 8200``
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import aiohttp
import uvloop
from aiohttp import web

_UPSTREAM = web.AppKey("upstream", str)
_SESSION = web.AppKey("session", aiohttp.ClientSession)
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


async def _health(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type="application/json")


def make_app(upstream: str) -> web.Application:
    app = web.Application()
    app[_UPSTREAM] = upstream.rstrip("/")

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
    args = parser.parse_args()
    # uvloop, as the gateway and the simulator use: the event loop stays out of the comparison.
    web.run_app(
        make_app(args.upstream), host=args.host, port=args.port, access_log=None, print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
