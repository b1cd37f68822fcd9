"""One request's originals and the placeholders that stand in for them.

Placeholders look like ``<EMAIL_1>``: a kind a model can reason about ("write to <EMAIL_1>"), a number that keeps
two addresses apart, and brackets that models copy verbatim and that never occur inside the data we detect. The
same value gets the same placeholder throughout the request (system prompt, turns, tool calls), so the model sees
that two mentions are one person. Numbering is per request and in order of appearance, which makes a redacted
request a deterministic function of its shape: two users asking the same question about different addresses send
the same redacted request (and may share a cache entry, which holds placeholders only).
"""

from __future__ import annotations

import re
from typing import Final

import orjson

from .detectors import Span

__all__ = ["PLACEHOLDER", "Vault"]

PLACEHOLDER: Final = re.compile(r"<[A-Z][A-Z0-9_]*_\d+>")


class Vault:
    """Maps originals to placeholders and back, for one request. ``restore`` says whether the answer gets the
    originals back (the policy's ``restore`` setting); ``count`` is how many mentions were replaced."""

    __slots__ = ("_numbers", "_originals", "_placeholders", "_taken", "count", "restore")

    def __init__(self, *, restore: bool = True, taken: frozenset[str] = frozenset()) -> None:
        """``taken``: placeholder-shaped text the request holds itself (``"Dear <EMAIL_1>"`` in a template), never
        issued, so that restoring the answer cannot put an original where the client's own text stood."""
        self._placeholders: dict[tuple[str, str], str] = {}
        self._originals: dict[str, str] = {}
        self._numbers: dict[str, int] = {}
        self._taken = taken
        self.count = 0
        self.restore = restore

    def __len__(self) -> int:
        """Distinct values held."""
        return len(self._originals)

    def placeholder(self, label: str, value: str) -> str:
        """The placeholder for ``value`` of kind ``label``, the same one every time within the request."""
        key = (label, value)
        found = self._placeholders.get(key)
        if found is None:
            number = self._numbers.get(label, 0) + 1
            while f"<{label}_{number}>" in self._taken:
                number += 1
            self._numbers[label] = number
            found = self._placeholders[key] = f"<{label}_{number}>"
            self._originals[found] = value
        return found

    def replace(self, text: str, spans: list[Span]) -> str:
        """``text`` with every span (sorted, not overlapping) replaced by its placeholder."""
        pieces: list[str] = []
        last = 0
        for start, end, label in spans:
            pieces.append(text[last:start])
            pieces.append(self.placeholder(label, text[start:end]))
            last = end
        pieces.append(text[last:])
        self.count += len(spans)
        return "".join(pieces)

    def original(self, placeholder: str) -> str | None:
        return self._originals.get(placeholder)

    def restore_text(self, text: str) -> str:
        """Placeholders of this request replaced by their originals; anything else (including placeholders this
        request never issued) is left as it is."""
        if "<" not in text or not self._originals:
            return text
        originals = self._originals
        return PLACEHOLDER.sub(lambda m: originals.get(m.group(), m.group()), text)

    def restore_json(self, text: str) -> str:
        """As :meth:`restore_text`, for JSON text (tool-call arguments): an original goes in JSON-escaped, so that
        a placeholder inside a string literal leaves a valid string literal."""
        if "<" not in text or not self._originals:
            return text
        originals = self._originals

        def escaped(match: re.Match[str]) -> str:
            found = originals.get(match.group())
            return match.group() if found is None else orjson.dumps(found).decode()[1:-1]

        return PLACEHOLDER.sub(escaped, text)

    def could_start(self, tail: str) -> bool:
        """``tail`` (from a ``<`` to the end of what has arrived) may be the start of one of our placeholders."""
        return any(p.startswith(tail) for p in self._originals)
