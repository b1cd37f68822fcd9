"""The ``redaction:`` section (global, and ``routes.<name>.redaction``): which kinds of personal data to replace
before a request leaves, and whether to put the originals back into the answer.

Writing the section turns redaction on (``enabled`` defaults to true in it); without one it is off, because a
model that sees ``<EMAIL_1>`` instead of an address answers differently, which a deployment should decide. A
route's section replaces the global one as a whole; requests naming a deployment directly get the global one.

It lives here rather than in :mod:`switchyard.config` (which imports it) to keep that module small; it imports
nothing of ours, so the import cannot go round in a circle.
"""

from __future__ import annotations

import re
from typing import Final, Literal

import msgspec

__all__ = ["ENTITIES", "CustomPattern", "Entity", "RedactionConfig"]

Entity = Literal["email", "phone", "card", "iban", "ip"]
ENTITIES: Final[tuple[Entity, ...]] = ("email", "phone", "card", "iban", "ip")

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")


class CustomPattern(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """A regular expression of your own (employee ids, account numbers). Matches become ``<NAME_n>``."""

    name: str
    pattern: str


class RedactionConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    enabled: bool = True
    """Writing the section turns redaction on; ``false`` turns it off (e.g. for one route)."""
    entities: list[Entity] = msgspec.field(default_factory=lambda: list(ENTITIES))
    """Built-in detectors: ``email``, ``phone``, ``card`` (Luhn-checked), ``iban`` (mod-97), ``ip`` (v4 and v6)."""
    custom: list[CustomPattern] = msgspec.field(default_factory=list)
    restore: bool = True
    """Put the originals back into the answer (text, tool-call arguments, streams) before the client gets it.
    ``false``: the client sees the placeholders, as the model did."""

    def __post_init__(self) -> None:
        # ValueError here becomes a ConfigError naming the section (``routes.<name>.redaction``); see config.py.
        builtin = {e.upper() for e in ENTITIES}
        seen: set[str] = set()
        for i, custom in enumerate(self.custom):
            where = f"custom[{i}] '{custom.name}'"
            if not _NAME.fullmatch(custom.name):
                raise ValueError(f"{where}: a name is a letter then up to 31 letters, digits or underscores")
            label = custom.name.upper()
            if label in builtin or label in seen:
                raise ValueError(f"{where}: the name is already taken (built-ins: {', '.join(ENTITIES)})")
            seen.add(label)
            try:
                compiled = re.compile(custom.pattern)
            except re.error as exc:
                raise ValueError(f"{where}: pattern {custom.pattern!r} is not a regular expression: {exc}") from None
            if compiled.match("") is not None:
                raise ValueError(f"{where}: pattern {custom.pattern!r} matches the empty string")
        if len(set(self.entities)) != len(self.entities):
            raise ValueError("entities lists a kind twice")
