"""Originals back into the answer: a whole response, or a stream piece by piece.

A response is rebuilt, never changed in place: the gateway hands the upstream's (redacted) response to the cache
before restoring, and the cache encodes it later, in the background; changing it in place would store the
originals.

In a stream a placeholder may arrive split across chunks (``"write to <EM"``, ``"AIL_1> today"``). The
:class:`StreamRestorer` holds back only a tail that could still become one of this request's placeholders (it
starts with ``<``, has no ``>`` yet and is the start of a placeholder the vault issued) and sends everything
before it at once. The held tail goes out with the next piece, restored if it completed a placeholder and as it
was if not, or when the choice finishes or the stream ends.
"""

from __future__ import annotations

import msgspec

from ..types import ChatResponse, Choice, Message, Part, TextPart, ToolCall
from .vault import Vault

__all__ = ["StreamRestorer", "restore_message", "restore_response"]


def restore_message(message: Message, vault: Vault) -> Message:
    content: list[Part] = [TextPart(vault.restore_text(p.text)) if isinstance(p, TextPart) else p
                           for p in message.content]
    calls = [ToolCall(c.id, c.name, vault.restore_json(c.arguments)) for c in message.tool_calls]
    return msgspec.structs.replace(message, content=content, tool_calls=calls)


def restore_response(response: ChatResponse, vault: Vault) -> ChatResponse:
    """A new response with the originals in its text and tool-call arguments (``meta`` is shared)."""
    choices = [
        Choice(index=c.index, message=restore_message(c.message, vault), finish_reason=c.finish_reason)
        for c in response.choices
    ]
    return msgspec.structs.replace(response, choices=choices)


class StreamRestorer:
    """Restores streamed pieces per key (a choice's text, or one of its tool calls' arguments)."""

    __slots__ = ("_held", "_vault")

    def __init__(self, vault: Vault) -> None:
        self._vault = vault
        self._held: dict[tuple[int, int], str] = {}

    def feed(self, key: tuple[int, int], piece: str, *, json: bool = False) -> str:
        """What can be sent of ``piece`` (with any tail held from before) now, restored."""
        held = self._held.pop(key, None)
        text = held + piece if held else piece
        cut = text.rfind("<")
        if cut < 0:
            return text
        tail = text[cut:]
        if ">" not in tail and self._vault.could_start(tail):
            self._held[key] = tail
            text = text[:cut]
        return self._vault.restore_json(text) if json else self._vault.restore_text(text)

    def flush(self, key: tuple[int, int]) -> str:
        """The held tail of ``key``, as it was (it never completed a placeholder)."""
        return self._held.pop(key, "")

    def held(self, choice: int | None = None) -> list[tuple[int, int]]:
        """Keys with a held tail, of one choice or of all."""
        return [key for key in self._held if choice is None or key[0] == choice]
