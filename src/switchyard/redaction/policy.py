"""A redaction policy applied to a request, and which policy a request gets.

What is redacted: the text parts of system, user, assistant and tool messages, and tool-call arguments. JSON
(tool-call arguments, tool results that parse as JSON) is redacted string by string and written back as JSON, so
it stays valid; other text is redacted in place. Not redacted: images, tool definitions (the developer's, not the
user's), ``user`` and ``extra`` fields (see docs/redaction.md).

The request is never changed in place: the caller's object stays as it was, and messages without personal data
are shared between the two requests, not copied.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import msgspec

from ..types import ChatRequest, Message, Part, TextPart, ToolCall
from .config import RedactionConfig
from .detectors import Detector
from .vault import PLACEHOLDER, Vault

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["Policies", "Policy"]


class Policy:
    """One ``redaction:`` section, compiled."""

    __slots__ = ("detect", "restore")

    def __init__(self, config: RedactionConfig) -> None:
        self.detect = Detector(config.entities, [(c.name, c.pattern) for c in config.custom])
        self.restore = config.restore

    def redact(self, request: ChatRequest) -> tuple[ChatRequest, Vault]:
        """The request with personal data replaced by placeholders, and the vault to restore the answer with."""
        # Without restoring, a placeholder in the request is one an earlier answer showed the client, and the same
        # value must get it again; with restoring, the client never saw one, so any there is the client's own text.
        vault = Vault(restore=self.restore, taken=_written(request) if self.restore else frozenset())
        messages: list[Message] | None = None
        for i, message in enumerate(request.messages):
            redacted = self._message(message, vault)
            if redacted is not message:
                if messages is None:
                    messages = list(request.messages)
                messages[i] = redacted
        if messages is None:
            return request, vault
        return msgspec.structs.replace(request, messages=messages), vault

    def text(self, text: str, vault: Vault) -> str:
        spans = self.detect(text)
        return vault.replace(text, spans) if spans else text

    def json_text(self, text: str, vault: Vault) -> str:
        """Redact JSON text string by string; text that is not JSON is redacted as text."""
        # Most arguments and tool results hold nothing to redact: detect on the raw text first, parse only if so.
        if not self.detect(text):
            return text
        try:
            # The standard library, not orjson: orjson reads integers beyond 64 bits as floats, which would change
            # the numbers a tool call carries. This runs only for payloads holding something to redact.
            value = json.loads(text)
        except ValueError:
            return self.text(text, vault)
        if not isinstance(value, dict | list | str):
            return self.text(text, vault)
        redacted = self._value(value, vault)
        return text if redacted is value else _dumps(redacted)

    def _value(self, value: Any, vault: Vault) -> Any:
        if isinstance(value, str):
            return self.text(value, vault)
        if isinstance(value, dict):
            out = {k: self._value(v, vault) for k, v in value.items()}
            return value if all(out[k] is v for k, v in value.items()) else out
        if isinstance(value, list):
            items = [self._value(v, vault) for v in value]
            return value if all(a is b for a, b in zip(items, value, strict=True)) else items
        return value

    def _message(self, message: Message, vault: Vault) -> Message:
        redact = self.json_text if message.role == "tool" else self.text
        content: list[Part] | None = None
        for j, part in enumerate(message.content):
            if isinstance(part, TextPart):
                text = redact(part.text, vault)
                if text is not part.text:
                    if content is None:
                        content = list(message.content)
                    content[j] = TextPart(text)
        calls: list[ToolCall] | None = None
        for j, call in enumerate(message.tool_calls):
            arguments = self.json_text(call.arguments, vault)
            if arguments is not call.arguments:
                if calls is None:
                    calls = list(message.tool_calls)
                calls[j] = ToolCall(call.id, call.name, arguments)
        if content is None and calls is None:
            return message
        return msgspec.structs.replace(
            message,
            content=message.content if content is None else content,
            tool_calls=message.tool_calls if calls is None else calls,
        )


def _written(request: ChatRequest) -> frozenset[str]:
    """Placeholder-shaped text already in the request's messages (one substring test per text when there is none)."""
    found: set[str] = set()
    for message in request.messages:
        for part in message.content:
            if isinstance(part, TextPart) and "<" in part.text:
                found.update(PLACEHOLDER.findall(part.text))
        for call in message.tool_calls:
            if "<" in call.arguments:
                found.update(PLACEHOLDER.findall(call.arguments))
    return frozenset(found)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Policies:
    """Which policy a request gets: its route's ``redaction:`` section if the route has one, else the global one;
    a deployment named directly gets the global one. ``None`` where redaction is off."""

    __slots__ = ("_default", "_routes")

    def __init__(self, default: Policy | None, routes: dict[str, Policy | None]) -> None:
        self._default = default
        self._routes = routes

    @classmethod
    def from_config(cls, config: Config) -> Policies | None:
        """``None`` when redaction is off everywhere, so that the gateway skips it with one attribute check."""
        default = Policy(config.redaction) if config.redaction.enabled else None
        routes = {
            name: Policy(route.redaction) if route.redaction.enabled else None
            for name, route in config.routes.items()
            if route.redaction is not None
        }
        if default is None and not any(routes.values()):
            return None
        return cls(default, routes)

    def get(self, model: str) -> Policy | None:
        """The policy for a request naming ``model`` (a route or a deployment)."""
        return self._routes.get(model, self._default)
