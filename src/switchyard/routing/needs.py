"""What a request demands of a deployment: its kind (chat or embedding), features (tools, vision, JSON schema,
streaming), room in the context window, and tags.

Each is computed on first use and kept, so a route whose deployments can all do everything never scans the
messages, and the prompt-token estimate is made at most once per request however many filters and strategies ask.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from ..errors import InvalidRequestError
from ..pricing import IMAGE_TOKENS, estimate_prompt_tokens
from ..types import ChatRequest, ImagePart, Mode, TextPart

__all__ = ["Needs", "Tagged", "parse_tags", "take_tags"]

_CEILING_PER_CHAR = 3.0
_PER_MESSAGE_CHARS = 4
"""Characters counted for each message, part and tool call, which the estimate charges a few tokens each."""
_IMAGE_CEILING = 2 * IMAGE_TOKENS


def parse_tags(value: str | Iterable[object]) -> list[str]:
    """``"a, b"`` or ``["a", "b"]`` → ``["a", "b"]``; blanks dropped."""
    items: Iterable[object] = value.split(",") if isinstance(value, str) else value
    tags = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidRequestError(f"tags must be strings, got {item!r}", param="metadata.tags")
        if item.strip():
            tags.append(item.strip())
    return tags


class Tagged(Protocol):
    extra: dict[str, Any]
    tags: list[str]


def take_tags(request: Tagged) -> None:
    """Move ``metadata.tags`` of the body onto ``request.tags``. They are routing instructions for us, and
    providers reject them (OpenAI wants string metadata values, Anthropic allows only ``user_id``)."""
    metadata = request.extra.get("metadata")
    if not isinstance(metadata, dict) or "tags" not in metadata:
        return
    raw = metadata.pop("tags")
    if not isinstance(raw, str | list):
        raise InvalidRequestError("metadata.tags must be a list of strings or a comma-separated string",
                                  param="metadata.tags")
    request.tags = [*request.tags, *parse_tags(raw)]
    if not metadata:
        del request.extra["metadata"]


class Needs:
    """The demands of one request, derived lazily."""

    __slots__ = ("_ceiling", "_features", "_prompt_tokens", "_tags", "mode", "request", "tag_rules")

    def __init__(self, request: ChatRequest, tag_rules: Mapping[str, list[str]], mode: Mode = "chat") -> None:
        self.request = request
        self.tag_rules = tag_rules
        self.mode = mode
        """``chat``, or ``embedding`` for an embeddings request (``request`` is then its routing view)."""
        self._features: frozenset[str] | None = None
        self._prompt_tokens: int | None = None
        self._tags: frozenset[str] | None = None
        self._ceiling: int | None = None

    @property
    def features(self) -> frozenset[str]:
        if self._features is None:
            request = self.request
            used = set()
            if request.tools and (request.tool_choice is None or request.tool_choice.mode != "none"):
                used.add("tools")
            if request.response_format is not None and request.response_format.type == "json_schema":
                used.add("json_schema")
            if request.stream:
                used.add("streaming")
            if any(isinstance(p, ImagePart) for m in request.messages for p in m.content):
                used.add("vision")
            self._features = frozenset(used)
        return self._features

    @property
    def prompt_tokens(self) -> int:
        """Estimated offline (no tokenizer), as budgets are reserved."""
        if self._prompt_tokens is None:
            self._prompt_tokens = estimate_prompt_tokens(self.request)
        return self._prompt_tokens

    @property
    def tokens(self) -> int:
        """Prompt plus the most output the request allows: what must fit in a context window."""
        return self.prompt_tokens + (self.request.max_tokens or 0)

    @property
    def token_ceiling(self) -> int:
        """An upper bound of :attr:`tokens` from character counts alone, about 30 times cheaper than the estimate:
        a request under every window by this bound needs no estimate at all. No text estimates to more than
        :data:`_CEILING_PER_CHAR` tokens a character (a string of newlines comes closest, at ~2.1)."""
        if self._ceiling is not None:
            return self._ceiling
        request = self.request
        if request.tools or request.response_format is not None:
            self._ceiling = self.tokens
            return self._ceiling
        chars, images = 0, 0
        for message in request.messages:
            chars += len(message.name or "") + len(message.tool_call_id or "") + _PER_MESSAGE_CHARS
            for part in message.content:
                if isinstance(part, TextPart):
                    chars += len(part.text) + _PER_MESSAGE_CHARS
                else:
                    images += 1
            for call in message.tool_calls:
                chars += len(call.name) + len(call.arguments) + _PER_MESSAGE_CHARS
        self._ceiling = int(chars * _CEILING_PER_CHAR) + images * _IMAGE_CEILING + (request.max_tokens or 0)
        return self._ceiling

    @property
    def tags(self) -> frozenset[str]:
        """Deployment tags the request's tags demand (a tag with no rule demands itself)."""
        if self._tags is None:
            rules = self.tag_rules
            demanded: set[str] = set()
            for tag in self.request.tags:
                demanded.update(rules.get(tag, (tag,)))
            self._tags = frozenset(demanded)
        return self._tags
