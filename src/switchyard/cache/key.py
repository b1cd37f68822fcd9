"""What an answer depends on, as a digest: the exact-cache key and the semantic cache's context key.

The key covers every field of :class:`~switchyard.types.ChatRequest` except those listed in :data:`NEUTRAL_FIELDS`,
so a field added to the request later changes the key by default: forgetting to list a field can cost hits, never
serve a wrong answer. Encoding is msgpack with dictionary keys sorted (tool schemas, ``extra``), so two requests
that differ only in the order of a JSON object's keys share a key.
"""

from __future__ import annotations

import hashlib
from operator import attrgetter
from typing import Any

import msgspec

from ..types import ChatRequest

__all__ = ["NEUTRAL_EXTRA", "NEUTRAL_FIELDS", "context_digest", "digest", "exact_digest", "last_user_text"]

NEUTRAL_FIELDS = frozenset({"user", "stream", "include_usage", "session"})
"""Fields that do not change the answer: attribution, transport (a stream and a plain answer share an entry) and
affinity. ``tags`` is *not* here: tags restrict which deployments may answer."""

NEUTRAL_EXTRA = frozenset({"metadata", "store", "service_tier", "prompt_cache_key", "safety_identifier"})
"""Passthrough fields that only label or bill a request upstream; any other ``extra`` field is part of the key."""

_VERSION = b"sy-cache-1\0"
"""Bumped when the encoding changes, so entries written by an older gateway are never read as the new format."""

_ANSWER_FIELDS = tuple(f for f in ChatRequest.__struct_fields__ if f not in NEUTRAL_FIELDS)
_EXTRA_AT = _ANSWER_FIELDS.index("extra")
_MESSAGES_AT = _ANSWER_FIELDS.index("messages")
_fields = attrgetter(*_ANSWER_FIELDS)
_encode = msgspec.msgpack.Encoder(order="deterministic").encode


def digest(*parts: bytes) -> bytes:
    """128-bit BLAKE2b of ``parts``, each length-prefixed so that no two different sequences collide by
    concatenation (``("ab", "c")`` vs ``("a", "bc")``)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(len(part).to_bytes(4, "big"))
        h.update(part)
    return h.digest()


def _canonical(request: ChatRequest, values: list[Any]) -> bytes:
    extra = request.extra
    if extra and not NEUTRAL_EXTRA.isdisjoint(extra):
        values[_EXTRA_AT] = {k: v for k, v in extra.items() if k not in NEUTRAL_EXTRA}
    return _VERSION + _encode(values)


def exact_digest(request: ChatRequest, namespace: bytes) -> bytes:
    """The exact-cache key of ``request`` within ``namespace`` (namespaces are part of the digest, so two
    tenants' identical requests never share an entry even if their key prefixes did)."""
    return digest(namespace, _canonical(request, list(_fields(request))))


def context_digest(request: ChatRequest, namespace: bytes) -> bytes | None:
    """Everything but the last user turn (system prompt, earlier turns, tools, parameters): the part a semantic
    match must share exactly. ``None`` when the request does not end with a user turn."""
    messages = request.messages
    if not messages or messages[-1].role != "user":
        return None
    values = list(_fields(request))
    values[_MESSAGES_AT] = messages[:-1]
    return digest(namespace, b"context\0", _canonical(request, values))


def last_user_text(request: ChatRequest) -> str | None:
    """The text of the closing user turn, the part the semantic cache compares; ``None`` when there is none or it
    carries images (which a text embedding cannot compare)."""
    messages = request.messages
    if not messages or messages[-1].role != "user" or messages[-1].has_images:
        return None
    return messages[-1].text
