"""Whose cache a request may use, and whether it may use it at all.

A namespace is where a caller's entries live. Its base comes from the caller's identity (``key:<id>`` by default,
``team:<name>`` or ``global`` when configured), never from the request, so no caller can read another tenant's
answers; ``x-switchyard-cache-namespace`` may only *narrow* it (``key:<id>/<name>``, e.g. one end user of an app).
Bumping a base namespace's version retires its narrowed namespaces too.

Skip rules and per-request controls decide whether a request is looked up and whether its answer is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import CacheSkipConfig
from ..errors import InvalidRequestError
from ..governance.principal import Principal
from ..types import ChatRequest

__all__ = ["CacheControl", "Namespace", "NamespaceBy", "skip_reason"]

NamespaceBy = Literal["key", "team", "global"]

_MAX_NAME = 128


@dataclass(frozen=True, slots=True)
class CacheControl:
    """One request's instructions to the cache (``Cache-Control`` and ``x-switchyard-cache-*`` headers)."""

    no_cache: bool = False
    """Do not answer from the cache; the fresh answer is stored (a refresh)."""
    no_store: bool = False
    """Do not store this request's answer."""
    max_age_s: float | None = None
    """Accept only an entry stored at most this many seconds ago (``Cache-Control: max-age=N``)."""
    ttl_s: float | None = None
    """Keep the answer this long (``x-switchyard-cache-ttl``), capped by ``cache.max_ttl_s``."""
    namespace: str | None = None
    """Narrows the caller's namespace (``x-switchyard-cache-namespace``)."""
    personal: bool = False
    """The request is marked personal (``cache.skip.personal_header``): never looked up nor stored."""

    def __post_init__(self) -> None:
        if self.namespace is not None and not 0 < len(self.namespace) <= _MAX_NAME:
            raise InvalidRequestError(f"cache namespace must be 1 to {_MAX_NAME} characters")
        for name, value in (("max_age_s", self.max_age_s), ("ttl_s", self.ttl_s)):
            if value is not None and not value >= 0:
                raise InvalidRequestError(f"cache {name} must be a number of seconds >= 0")


DEFAULT_CONTROL = CacheControl()


@dataclass(frozen=True, slots=True)
class Namespace:
    """``base`` is the caller's own (``key:<id>``, ``team:<name>``, ``global`` or ``open`` for a gateway without
    keys); ``sub`` is the narrowing the request asked for."""

    base: str
    sub: str | None = None

    @property
    def name(self) -> str:
        return self.base if self.sub is None else f"{self.base}/{self.sub}"

    @classmethod
    def of(cls, principal: Principal, by: NamespaceBy, narrow: str | None = None) -> Namespace:
        key = principal.key
        if by == "global":
            base = "global"
        elif by == "team" and key is not None and key.team:
            base = f"team:{key.team}"
        else:
            # Without a team the key is the tenant; without a key the gateway is open and has one tenant.
            base = f"key:{key.id}" if key is not None else "open"
        return cls(base, narrow)

    @classmethod
    def parse(cls, name: str) -> Namespace:
        """The inverse of :attr:`name` (the admin API names namespaces this way)."""
        base, sep, sub = name.partition("/")
        if not base or (sep and not sub):
            raise InvalidRequestError(f"invalid cache namespace '{name}': expected <base> or <base>/<name>")
        return cls(base, sub or None)


def skip_reason(request: ChatRequest, control: CacheControl, rules: CacheSkipConfig) -> str | None:
    """Why this request must neither be answered from the cache nor stored, or ``None``."""
    if control.personal:
        return "personal"
    limit = rules.temperature_above
    if limit is not None and request.temperature is not None and request.temperature > limit:
        return "temperature"
    if rules.tool_results and any(m.role == "tool" for m in request.messages):
        return "tool-results"
    return None
