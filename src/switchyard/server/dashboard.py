"""The dashboard: one static page (``data/dashboard/``, vanilla JS drawing SVG, no build step) that polls
``/dashboard/data`` for :func:`~switchyard.server.dashboard_api.dashboard_report`'s JSON.

    GET  /dashboard               the page (or the sign-in form)
    POST /dashboard/login         form field ``key``: the master key, exchanged for a session cookie
    GET  /dashboard?key=...       the same exchange for a link, then a redirect that drops the key from the URL
    GET  /dashboard/data          the figures (session cookie, or ``Authorization: Bearer <master key>``)
    GET  /dashboard/logout        forget the session
    GET  /dashboard/<asset>       the page's script and style sheet

With a master key configured the page needs it, as the admin API does; a browser cannot send a bearer header when
it navigates, so the key is exchanged once for an ``HttpOnly``, ``SameSite=Strict`` cookie. The cookie holds no
key: it is an expiry time and its HMAC under a key derived from the master key, so every replica accepts it, it
expires by itself, and changing the master key signs everyone out. Without a master key the gateway is open and so
is its dashboard.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, MutableMapping
from importlib import resources
from typing import Any, Final
from urllib.parse import parse_qs

import orjson

from ..errors import InvalidRequestError, SwitchyardError
from ..gateway import Gateway
from ..governance.keys import is_master
from .dashboard_api import dashboard_report
from .http import NotFoundError

__all__ = ["Dashboard", "Response"]

AdminHandler = Callable[[str, str, bytes, bytes], Awaitable[tuple[int, bytes]]]
Headers = list[tuple[bytes, bytes]]
Response = tuple[int, Headers, bytes]

COOKIE: Final = "switchyard_dashboard"
SESSION_S: Final = 12 * 3600
_ASSETS: Final = {
    "dashboard.js": b"text/javascript; charset=utf-8",
    "dashboard.css": b"text/css; charset=utf-8",
}
_HTML: Final = b"text/html; charset=utf-8"
_SECURITY: Final[Headers] = [
    # Everything the page loads comes from here; nothing may frame it (clickjacking) or learn its URL.
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
     b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class Dashboard:
    def __init__(self, gateway: Gateway, admin: AdminHandler | None) -> None:
        """``admin`` is the admin API's handler (``None`` without a ledger): spend and budgets come from it."""
        self.gateway = gateway
        self.admin = admin
        master = gateway.config.governance.master_key
        self._master = master.get() if master is not None else None
        self._signing = hashlib.sha256(b"switchyard dashboard session\0" + self._master.encode()).digest() if (
            self._master is not None
        ) else b""

    async def __call__(self, scope: MutableMapping[str, Any], body: bytes) -> Response:
        method, path = scope["method"], scope["path"].rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(scope["query_string"].decode("latin-1")).items()}
        name = path.removeprefix("/dashboard").lstrip("/")
        if method == "GET" and name in _ASSETS:
            return 200, [(b"content-type", _ASSETS[name]), *_SECURITY], _asset(name)
        if path == "/dashboard" and method == "GET":
            if self._signed_in(scope):
                return 200, [(b"content-type", _HTML), *_SECURITY], _asset("index.html")
            if "key" in query:
                return self._sign_in(query["key"], scope)
            return 200, [(b"content-type", _HTML), *_SECURITY], _login_page()
        if name == "login" and method == "POST":
            form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            return self._sign_in(form.get("key", ""), scope)
        if name == "logout" and method == "GET":
            return 303, [(b"location", b"/dashboard"), (b"set-cookie", _cookie("", 0, scope)), *_SECURITY], b""
        if name == "data" and method == "GET":
            if not self._signed_in(scope):
                return _json(401, {"error": {"message": "sign in at /dashboard", "type": "authentication_error"}})
            try:
                return _json(200, await dashboard_report(self.gateway, self.admin, query))
            except SwitchyardError as exc:
                return _json(exc.status_code, {"error": {"message": exc.message, "type": exc.error_type}})
        raise NotFoundError(f"no dashboard endpoint {method} {scope['path']}")

    async def admin_json(self, scope: MutableMapping[str, Any]) -> tuple[int, bytes]:
        """``GET /admin/metrics`` (the telemetry snapshot) and ``GET /admin/dashboard`` (everything the page
        shows), for API clients with the master key; they work without a ledger, unlike the rest of the admin API."""
        if scope["path"] == "/admin/metrics":
            return 200, orjson.dumps(self.gateway.telemetry.snapshot())
        query = {k: v[-1] for k, v in parse_qs(scope["query_string"].decode("latin-1")).items()}
        return 200, orjson.dumps(await dashboard_report(self.gateway, self.admin, query))

    # -- sessions ------------------------------------------------------------------------------------------------

    def session(self, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + SESSION_S)
        return f"{expires}.{self._sign(expires)}"

    def _sign(self, expires: int) -> str:
        return hmac.new(self._signing, str(expires).encode(), hashlib.sha256).hexdigest()

    def valid(self, token: str) -> bool:
        expires, _, signature = token.partition(".")
        if not expires.isdigit() or int(expires) < time.time():
            return False
        return hmac.compare_digest(signature, self._sign(int(expires)))

    def _signed_in(self, scope: MutableMapping[str, Any]) -> bool:
        if self._master is None:
            return True
        for name, value in scope["headers"]:
            if name == b"cookie":
                for part in value.decode("latin-1").split(";"):
                    key, _, token = part.strip().partition("=")
                    if key == COOKIE and self.valid(token):
                        return True
            elif name == b"authorization":
                scheme, _, secret = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and is_master(secret.strip(), self._master):
                    return True
        return False

    def _sign_in(self, key: str, scope: MutableMapping[str, Any]) -> Response:
        if self._master is None:
            return 303, [(b"location", b"/dashboard"), *_SECURITY], b""
        if not key or not is_master(key.strip(), self._master):
            return 401, [(b"content-type", _HTML), *_SECURITY], _login_page("That is not the master key.")
        cookie = _cookie(self.session(), SESSION_S, scope)
        return 303, [(b"location", b"/dashboard"), (b"set-cookie", cookie), *_SECURITY], b""


def _cookie(value: str, max_age: int, scope: MutableMapping[str, Any]) -> bytes:
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    return f"{COOKIE}={value}; Max-Age={max_age}; Path=/dashboard; HttpOnly; SameSite=Strict{secure}".encode()


def _json(status: int, payload: Any) -> Response:
    return status, [(b"content-type", b"application/json"), *_SECURITY], orjson.dumps(payload)


_CACHE: dict[str, bytes] = {}


def _asset(name: str) -> bytes:
    data = _CACHE.get(name)
    if data is None:
        data = _CACHE[name] = resources.files("switchyard").joinpath("data", "dashboard", name).read_bytes()
    return data


def _login_page(message: str = "") -> bytes:
    page = _asset("login.html")
    if not message:
        return page.replace(b"<!--message-->", b"")
    if "<" in message or "&" in message:
        raise InvalidRequestError("message must be plain text")
    return page.replace(b"<!--message-->", f'<p class="error">{message}</p>'.encode())
