"""Anthropic Messages requests (``POST /v1/messages``, ``/v1/messages/count_tokens``) → canonical :class:`ChatRequest`.

So the official ``anthropic`` SDK (and ``langchain-anthropic``) can reach every configured model and route, whatever
provider serves it. The mapping onto the canonical model:

- ``system`` (a string or text blocks) and ``system`` turns become system messages; ``cache_control`` is accepted
  everywhere and ignored (prompt caching is the provider's business, and only Anthropic has this marker).
- ``tool_use`` blocks of an assistant turn become its tool calls (``input`` as JSON text); each ``tool_result`` block
  of a user turn becomes one ``tool`` message (``is_error`` kept), placed before the turn's own text and images.
- Images (base64 or URL) become image parts (base64 as a ``data:`` URI).
- ``tool_choice`` ``auto``/``any``/``tool``/``none`` → ``auto``/``required``/``tool``/``none``;
  ``disable_parallel_tool_use`` → ``parallel_tool_calls = False``.
- ``output_config.format`` (a JSON schema) → a ``json_schema`` response format.
- ``metadata.user_id`` → ``user``; ``metadata.tags`` (our extension, as on the OpenAI endpoint) → routing tags.

Decisions where Anthropic's API has no canonical counterpart:

- ``max_tokens`` is required, as upstream, and must be at least 1: ``0`` (warm the prompt cache, generate nothing)
  has no meaning for other providers.
- ``top_k``, ``service_tier``, ``inference_geo`` and ``speed`` only mean something to Anthropic. They travel in
  ``ChatRequest.extra`` (sent verbatim), and the endpoint accepts them only when every deployment that could serve
  the request is an Anthropic one (see :mod:`.anthropic_api`); otherwise the answer is a 400 naming the field.
- ``thinking`` is rejected unless ``{"type": "disabled"}``: the answer may come from any provider, the canonical
  response carries no thinking blocks, and a tool loop with thinking needs them sent back. ``output_config.effort``
  is rejected for the same reason.
- Known Anthropic fields for server-side features (``container``, ``mcp_servers``, ``context_management``...) are
  400s saying they are not supported; anything else unknown is a 400 naming the field. Nested unknown fields too.

Wrong types and ranges are 400s naming the parameter (``messages[1].content[0].tool_use_id``).
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

import msgspec
import orjson

from ..errors import InvalidRequestError
from ..routing.needs import parse_tags
from ..types import ChatRequest, ImagePart, Message, Part, ResponseFormat, TextPart, Tool, ToolCall, ToolChoice
from .http import convert_body, json_object

__all__ = ["ANTHROPIC_ONLY", "parse_count_tokens_request", "parse_messages_request"]

ANTHROPIC_ONLY: Final = ("top_k", "service_tier", "inference_geo", "speed")
"""Top-level fields only Anthropic understands; carried in ``ChatRequest.extra`` for Anthropic deployments."""

_UNSUPPORTED: Final = frozenset(
    {"container", "context_management", "mcp_servers", "diagnostics", "user_profile_id", "workspace_id", "betas"}
)
"""Anthropic fields for server-side features the gateway cannot provide whatever the provider."""

_EXTENSIONS: Final = frozenset({"max_cost"})
"""Our own body fields, shared with the OpenAI endpoint: read by the HTTP layer from ``extra``, never sent upstream."""

_MEDIA_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


class _Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    pass


class _Text(_Strict, tag="text", tag_field="type"):
    text: str
    cache_control: dict[str, Any] | None = None
    # Present when clients send back an earlier answer as-is; output metadata, accepted and not forwarded.
    citations: list[Any] | None = None


class _Base64Source(_Strict, tag="base64", tag_field="type"):
    media_type: str
    data: str


class _URLSource(_Strict, tag="url", tag_field="type"):
    url: str


class _Image(_Strict, tag="image", tag_field="type"):
    source: _Base64Source | _URLSource
    cache_control: dict[str, Any] | None = None


class _ToolUse(_Strict, tag="tool_use", tag_field="type"):
    id: str
    name: str
    input: dict[str, Any]
    cache_control: dict[str, Any] | None = None


class _ToolResult(_Strict, tag="tool_result", tag_field="type"):
    tool_use_id: str
    content: str | list[_Text | _Image] | None = None
    is_error: bool | None = None
    cache_control: dict[str, Any] | None = None


class _User(_Strict, tag="user", tag_field="role"):
    content: str | list[_Text | _Image | _ToolResult]


class _Assistant(_Strict, tag="assistant", tag_field="role"):
    content: str | list[_Text | _ToolUse]


class _SystemTurn(_Strict, tag="system", tag_field="role"):
    content: str | list[_Text]


class _ToolDef(_Strict):
    name: str
    input_schema: dict[str, Any]
    description: str | None = None
    type: Literal["custom"] | None = None
    strict: bool | None = None
    cache_control: dict[str, Any] | None = None


class _Auto(_Strict, tag="auto", tag_field="type"):
    disable_parallel_tool_use: bool | None = None


class _Any(_Strict, tag="any", tag_field="type"):
    disable_parallel_tool_use: bool | None = None


class _Named(_Strict, tag="tool", tag_field="type"):
    name: str
    disable_parallel_tool_use: bool | None = None


class _NoTool(_Strict, tag="none", tag_field="type"):
    pass


class _Thinking(_Strict):
    type: str
    budget_tokens: int | None = None
    display: str | None = None


class _Format(_Strict):
    type: Literal["json_schema"]
    schema: dict[str, Any]


class _OutputConfig(_Strict):
    format: _Format | None = None
    effort: str | None = None


class _Metadata(_Strict):
    user_id: str | None = None
    tags: str | list[str] | None = None


class _CountBody(_Strict):
    model: str
    messages: list[_User | _Assistant | _SystemTurn]
    system: str | list[_Text] | None = None
    tools: list[_ToolDef] | None = None
    tool_choice: _Auto | _Any | _Named | _NoTool | None = None
    thinking: _Thinking | None = None
    output_config: _OutputConfig | None = None
    cache_control: dict[str, Any] | None = None
    speed: str | None = None


class _Body(_CountBody):
    max_tokens: int | None = None
    metadata: _Metadata | None = None
    stop_sequences: list[str] | None = None
    stream: bool | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    service_tier: str | None = None
    inference_geo: str | None = None
    max_cost: float | str | None = None


_COUNT_FIELDS: Final = frozenset(_CountBody.__struct_fields__)
_FIELDS: Final = frozenset(_Body.__struct_fields__)

_BLOCK_TYPE: Final = re.compile(r"^messages\[\d+\]\.content\[\d+\]\.type$")
_HINTS: Final = (
    (re.compile(r"^messages\[\d+\]\.role$"), "roles are 'user', 'assistant' and 'system'"),
    (_BLOCK_TYPE, "user turns carry text, image and tool_result blocks, assistant turns text and tool_use blocks"),
    (re.compile(r"\.source\.type$"), "image sources are 'base64' and 'url'"),
    (re.compile(r"^tool_choice\.type$"), "tool_choice types are 'auto', 'any', 'tool' and 'none'"),
    (re.compile(r"^tools\[\d+\]\.type$"), "only custom tools (name, description, input_schema) are supported"),
)


def _decode(body: bytes, allowed: frozenset[str], endpoint: str) -> dict[str, Any]:
    data = json_object(body)
    for name in data:
        if name in allowed:
            continue
        if name in _UNSUPPORTED:
            raise InvalidRequestError(f"'{name}' (an Anthropic server-side feature) is not supported by this gateway",
                                      param=name)
        raise InvalidRequestError(f"unknown field '{name}' for {endpoint}", param=name)
    return data


def _text_parts(content: str | list[_Text]) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)]
    return [TextPart(block.text) for block in content]


def _image(block: _Image, where: str) -> ImagePart:
    source = block.source
    if isinstance(source, _URLSource):
        if not source.url:
            raise InvalidRequestError(f"'{where}.source.url' must not be empty", param=f"{where}.source.url")
        return ImagePart(source.url)
    if source.media_type not in _MEDIA_TYPES:
        allowed = ", ".join(sorted(_MEDIA_TYPES))
        raise InvalidRequestError(f"'{where}.source.media_type' must be one of {allowed}, got '{source.media_type}'",
                                  param=f"{where}.source.media_type")
    if not source.data or source.data.startswith("data:"):
        # A data URI here (the OpenAI shape) is the usual mistake: Anthropic wants the bare base64.
        raise InvalidRequestError(f"'{where}.source.data' must be base64 image data (no 'data:' prefix)",
                                  param=f"{where}.source.data")
    return ImagePart(f"data:{source.media_type};base64,{source.data}")


def _user(raw: _User, at: int) -> list[Message]:
    """One user turn: a ``tool`` message per result first (they answer the previous turn's calls), then its own
    text and images, if any."""
    if isinstance(raw.content, str):
        return [Message(role="user", content=[TextPart(raw.content)])]
    out: list[Message] = []
    own: list[Part] = []
    for i, block in enumerate(raw.content):
        where = f"messages[{at}].content[{i}]"
        if isinstance(block, _Text):
            own.append(TextPart(block.text))
        elif isinstance(block, _Image):
            own.append(_image(block, where))
        else:
            content = block.content
            parts: list[Part] = []
            if isinstance(content, str):
                parts = [TextPart(content)]
            elif content is not None:
                parts = [
                    TextPart(c.text) if isinstance(c, _Text) else _image(c, f"{where}.content[{j}]")
                    for j, c in enumerate(content)
                ]
            out.append(Message(role="tool", content=parts, tool_call_id=block.tool_use_id,
                               is_error=bool(block.is_error)))
    if own or not out:
        out.append(Message(role="user", content=own))
    return out


def _assistant(raw: _Assistant) -> Message:
    if isinstance(raw.content, str):
        return Message(role="assistant", content=[TextPart(raw.content)] if raw.content else [])
    content: list[Part] = []
    calls: list[ToolCall] = []
    for block in raw.content:
        if isinstance(block, _Text):
            content.append(TextPart(block.text))
        else:
            calls.append(ToolCall(id=block.id, name=block.name, arguments=orjson.dumps(block.input).decode()))
    return Message(role="assistant", content=content, tool_calls=calls)


def _messages(raw: _CountBody) -> list[Message]:
    if not raw.messages:
        raise InvalidRequestError("'messages' must contain at least one message", param="messages")
    messages: list[Message] = []
    if raw.system is not None:
        system = _text_parts(raw.system)
        if any(p.text for p in system if isinstance(p, TextPart)):
            messages.append(Message(role="system", content=system))
    for at, turn in enumerate(raw.messages):
        if isinstance(turn, _User):
            messages.extend(_user(turn, at))
        elif isinstance(turn, _Assistant):
            messages.append(_assistant(turn))
        else:
            messages.append(Message(role="system", content=_text_parts(turn.content)))
    return messages


def _tools(raw: _CountBody) -> list[Tool]:
    tools: list[Tool] = []
    seen: set[str] = set()
    for i, tool in enumerate(raw.tools or []):
        if not tool.name:
            raise InvalidRequestError(f"'tools[{i}].name' must not be empty", param=f"tools[{i}].name")
        if tool.name in seen:
            raise InvalidRequestError(f"tool names must be unique; '{tool.name}' is given twice", param="tools")
        seen.add(tool.name)
        if tool.input_schema.get("type") != "object":
            raise InvalidRequestError(f"'tools[{i}].input_schema' must be a JSON schema of type 'object'",
                                      param=f"tools[{i}].input_schema")
        tools.append(Tool(name=tool.name, description=tool.description, parameters=tool.input_schema,
                          strict=tool.strict))
    return tools


def _tool_choice(raw: _CountBody, tools: list[Tool]) -> tuple[ToolChoice | None, bool | None]:
    """The canonical tool choice and ``parallel_tool_calls``."""
    choice = raw.tool_choice
    if choice is None:
        return None, None
    if isinstance(choice, _NoTool):
        return ToolChoice("none"), None
    if not tools and not isinstance(choice, _Auto):
        raise InvalidRequestError("'tool_choice' forces a tool call but no 'tools' are given", param="tool_choice")
    parallel = False if choice.disable_parallel_tool_use else None
    if isinstance(choice, _Named):
        if choice.name not in {t.name for t in tools}:
            raise InvalidRequestError(f"'tool_choice.name' names tool '{choice.name}', which is not in 'tools'",
                                      param="tool_choice.name")
        return ToolChoice("tool", choice.name), parallel
    return ToolChoice("required" if isinstance(choice, _Any) else "auto"), parallel


def _response_format(raw: _CountBody) -> ResponseFormat | None:
    config = raw.output_config
    if config is None:
        return None
    if config.effort is not None:
        raise InvalidRequestError("'output_config.effort' is not supported by this gateway: answers may come from "
                                  "any provider", param="output_config.effort")
    if config.format is None:
        return None
    return ResponseFormat(type="json_schema", name="response", schema=config.format.schema)


def _check_thinking(raw: _CountBody) -> None:
    if raw.thinking is not None and raw.thinking.type != "disabled":
        raise InvalidRequestError(
            "'thinking' is not supported by this gateway (only {\"type\": \"disabled\"}): answers may come from "
            "any provider and carry no thinking blocks", param="thinking")


def _check_ranges(raw: _Body) -> None:
    if raw.max_tokens is None:
        raise InvalidRequestError("'max_tokens' is required", param="max_tokens")
    checks: list[tuple[bool, str, str]] = [
        (raw.max_tokens < 1, "max_tokens", "must be at least 1"),
        (raw.temperature is not None and not 0 <= raw.temperature <= 1, "temperature", "must be between 0 and 1"),
        (raw.top_p is not None and not 0 <= raw.top_p <= 1, "top_p", "must be between 0 and 1"),
        (raw.top_k is not None and raw.top_k < 1, "top_k", "must be at least 1"),
    ]
    for failed, param, message in checks:
        if failed:
            raise InvalidRequestError(f"'{param}' {message}", param=param)
    for i, stop in enumerate(raw.stop_sequences or []):
        if not stop.strip():
            raise InvalidRequestError(f"'stop_sequences[{i}]' must contain non-whitespace",
                                      param=f"stop_sequences[{i}]")


def _prompt(raw: _CountBody) -> ChatRequest:
    """What both endpoints read: the fields that shape the prompt (messages, tools, tool choice, output format)."""
    _check_thinking(raw)
    tools = _tools(raw)
    choice, parallel = _tool_choice(raw, tools)
    return ChatRequest(
        model=raw.model,
        messages=_messages(raw),
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        response_format=_response_format(raw),
    )


def parse_messages_request(body: bytes) -> ChatRequest:
    """Parse and validate a ``/v1/messages`` body; raises ``InvalidRequestError`` naming what is wrong."""
    data = _decode(body, _FIELDS, "/v1/messages")
    raw = convert_body(data, _Body, _HINTS)
    _check_ranges(raw)
    request = _prompt(raw)
    request.extra = {name: data[name] for name in ANTHROPIC_ONLY if data.get(name) is not None}
    if raw.max_cost is not None:
        request.extra["max_cost"] = raw.max_cost
    request.temperature = raw.temperature
    request.top_p = raw.top_p
    request.max_tokens = raw.max_tokens
    request.stop = list(raw.stop_sequences or [])
    request.stream = bool(raw.stream)
    metadata = raw.metadata
    if metadata is not None:
        request.user = metadata.user_id
        request.tags = parse_tags(metadata.tags) if metadata.tags is not None else []
    return request


def parse_count_tokens_request(body: bytes) -> ChatRequest:
    """Parse and validate a ``/v1/messages/count_tokens`` body (the Messages fields that shape the prompt)."""
    data = _decode(body, _COUNT_FIELDS, "/v1/messages/count_tokens")
    return _prompt(convert_body(data, _CountBody, _HINTS))
