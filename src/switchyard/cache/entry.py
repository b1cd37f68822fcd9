"""A cached answer and its stored bytes.

An entry is a small header — the versions of its namespace when it was written — then the answer as msgpack,
zlib-compressed when that pays. A reader compares the header with the namespace's current versions (fetched in
the same round trip) and treats a mismatch as a miss: that is what makes a namespace bump retire every entry at
once without deleting anything. The header is read without decoding the answer, so a retired entry costs nothing.
"""

from __future__ import annotations

import struct
import zlib

import msgspec

from ..types import ChatChunk, ChatResponse, Usage

__all__ = ["CachedAnswer", "Versions", "decode", "encode", "versions_of"]

Versions = tuple[int, int]
"""``(base namespace version, narrowed namespace version)``; 0 for a namespace never bumped."""

_HEADER = struct.Struct(">BQQ")
_RAW, _ZLIB = 0, 1
_COMPRESS_FROM = 512
"""Bytes of msgpack below which compression saves too little to pay for its CPU."""


class CachedAnswer(msgspec.Struct, kw_only=True, array_like=True):
    """An answer as it was first given: exactly one of ``response`` (a plain answer) or ``chunks`` (a stream)."""

    deployment: str
    provider: str
    stored_at: float
    """Unix time; ``Cache-Control: max-age`` compares against it."""
    cost_usd: float | None = None
    """What the answer cost when it was made: each hit saves it (or its price now, when known)."""
    response: ChatResponse | None = None
    chunks: list[ChatChunk] | None = None

    @property
    def usage(self) -> Usage | None:
        if self.response is not None:
            return self.response.usage
        for chunk in reversed(self.chunks or ()):
            if chunk.usage is not None:
                return chunk.usage
        return None


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(CachedAnswer).decode


def encode(answer: CachedAnswer, versions: Versions, *, compress: bool) -> bytes:
    body = _encode(answer)
    kind = _RAW
    if compress and len(body) >= _COMPRESS_FROM:
        # Level 1: answers are text, which compresses ~3x already at the fastest level.
        body, kind = zlib.compress(body, 1), _ZLIB
    return _HEADER.pack(kind, *versions) + body


def versions_of(blob: bytes) -> Versions | None:
    """The namespace versions an entry was written under; ``None`` for bytes that are not an entry."""
    if len(blob) < _HEADER.size:
        return None
    _, base, sub = _HEADER.unpack_from(blob)
    return base, sub


def decode(blob: bytes) -> CachedAnswer | None:
    """The answer; ``None`` for unreadable bytes (a corrupt or foreign value is a miss, never an error)."""
    try:
        kind = blob[0]
        body = blob[_HEADER.size :]
        if kind == _ZLIB:
            body = zlib.decompress(body)
        elif kind != _RAW:
            return None
        return _decode(body)
    except (IndexError, zlib.error, msgspec.DecodeError):
        return None
