"""One semantic-cache entry: a question asked in a context, and where its answer is stored."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import msgspec
import numpy as np
from numpy.typing import NDArray

__all__ = ["SemanticEntry", "normalise"]

_TOKENS = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def normalise(text: str) -> str:
    """The form two texts must share to count as the same text: its words and its symbols, each punctuation mark
    a token of its own, Unicode-normalised and case-folded. So case and spacing (``purr ?`` / ``purr?``) do not
    matter, but every word, number and symbol does: ``C++`` is not ``C``, ``=`` is not ``==``."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")
    return " ".join(_TOKENS.findall(folded))


class _Wire(msgspec.Struct, array_like=True, frozen=True):
    id: str
    namespace: str
    context: str
    text: str
    vector: bytes
    response_key: str
    expires_at: float


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Wire)


@dataclass(frozen=True, slots=True, eq=False)
class SemanticEntry:
    """``text`` (the last user turn) was answered in ``context`` of ``namespace``; the answer is stored under
    ``response_key`` (the exact cache's key) until ``expires_at`` (Unix seconds: replicas share it)."""

    id: str
    namespace: str
    context: str
    text: str
    vector: NDArray[np.float32]
    response_key: str
    expires_at: float

    def encode(self) -> bytes:
        return _encoder.encode(_Wire(
            self.id, self.namespace, self.context, self.text, self.vector.astype("<f4").tobytes(),
            self.response_key, self.expires_at,
        ))

    @classmethod
    def decode(cls, raw: bytes) -> SemanticEntry:
        wire = _decoder.decode(raw)
        vector = np.frombuffer(wire.vector, dtype="<f4").astype(np.float32)
        return cls(wire.id, wire.namespace, wire.context, wire.text, vector, wire.response_key, wire.expires_at)
