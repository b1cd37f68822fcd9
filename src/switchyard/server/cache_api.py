"""The response cache's HTTP surface: per-request controls, invalidation, and feedback on cached answers.

Request headers (``x-switchyard-cache`` on the response says what happened: ``hit``, ``semantic-hit``, ``miss``,
``skip``)::

    Cache-Control: no-cache              do not answer from the cache (the fresh answer replaces the entry)
    Cache-Control: no-store              do not store this answer
    Cache-Control: max-age=60            accept a cached answer only if it is at most 60 s old
    x-switchyard-cache-ttl: 600          keep this answer 600 s (capped by ``cache.max_ttl_s``; 0: do not store)
    x-switchyard-cache-namespace: u-42   narrow the caller's namespace (never widen it: see switchyard.cache.policy)
    x-switchyard-personal: 1             (``cache.skip.personal_header``) never cache this request

    POST /admin/cache/invalidate {"namespace": "key:<id>"}    retire every entry of a namespace (master key)
"""

from __future__ import annotations

import msgspec
import orjson

from ..cache import CacheControl
from ..errors import InvalidRequestError
from ..gateway import Gateway
from ..governance.principal import Principal

__all__ = ["cache_control", "cache_feedback", "invalidate"]

_NO = frozenset({b"", b"0", b"false", b"no"})


def cache_control(headers: list[tuple[bytes, bytes]], personal_header: bytes) -> CacheControl | None:
    """The request's cache controls; ``None`` when it sends none (the usual case, and the cheapest)."""
    no_cache = no_store = personal = False
    max_age = ttl = None
    namespace = None
    found = False
    for name, value in headers:
        if name == b"cache-control":
            found = True
            for directive in value.lower().split(b","):
                directive = directive.strip()
                if directive == b"no-cache":
                    no_cache = True
                elif directive == b"no-store":
                    no_store = True
                elif directive.startswith(b"max-age=") and directive[8:].isdigit():
                    # RFC 9111: an invalid max-age is ignored, like any directive a cache does not understand.
                    max_age = float(directive[8:])
        elif name == b"x-switchyard-cache-ttl":
            found = True
            try:
                ttl = float(value)
            except ValueError:
                raise InvalidRequestError("x-switchyard-cache-ttl must be a number of seconds") from None
        elif name == b"x-switchyard-cache-namespace":
            found = True
            namespace = value.decode("latin-1").strip() or None
        elif name == personal_header:
            found = True
            personal = value.strip().lower() not in _NO
    if not found:
        return None
    return CacheControl(
        no_cache=no_cache, no_store=no_store, max_age_s=max_age, ttl_s=ttl, namespace=namespace, personal=personal
    )


class _Invalidate(msgspec.Struct, forbid_unknown_fields=True):
    namespace: str


async def invalidate(gateway: Gateway, body: bytes) -> tuple[int, bytes]:
    if gateway.cache is None:
        raise InvalidRequestError("the response cache is not enabled (cache.enabled in the configuration)")
    try:
        request = msgspec.json.decode(body, type=_Invalidate)
    except msgspec.DecodeError as exc:
        raise InvalidRequestError(f'invalid request: {exc}; send {{"namespace": "key:<id>"}}') from exc
    version = await gateway.cache.invalidate(request.namespace)
    return 200, orjson.dumps({"namespace": request.namespace, "version": version})


class _Feedback(msgspec.Struct):
    id: str
    score: float


async def cache_feedback(gateway: Gateway, body: bytes, principal: Principal) -> bool | None:
    """Negative feedback on a response the cache served or stored removes its entry. ``None`` when the cache does
    not know the response (or the body is malformed: the feedback endpoint itself reports that)."""
    if gateway.cache is None:
        return None
    try:
        feedback = msgspec.json.decode(body, type=_Feedback)
    except msgspec.DecodeError:
        return None
    return await gateway.cache.feedback(feedback.id, feedback.score, principal)
