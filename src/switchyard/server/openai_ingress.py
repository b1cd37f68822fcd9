"""OpenAI Chat Completions requests → canonical :class:`ChatRequest`.

The body is validated against typed wire structs so a wrong type is a 400 naming the field
(``Expected `number`, got `str` - at `$.temperature```). Top-level fields we do not model are not dropped:
they travel in ``ChatRequest.extra`` and reach the upstream verbatim. Nested unknown fields are rejected,
except the read-only ones clients echo back from earlier responses (``refusal``, ``annotations``).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from ..errors import InvalidRequestError
from ..types import (
    ChatRequest,
    ImagePart,
    Message,
    Part,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)
from .http import check_tool_choice, convert_body, json_object

__all__ = ["parse_chat_request"]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    pass


class _ImageURL(_Strict):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class _TextContent(_Strict, tag="text", tag_field="type"):
    text: str


class _ImageContent(_Strict, tag="image_url", tag_field="type"):
    image_url: _ImageURL


_Content = str | list[_TextContent | _ImageContent]


class _Function(_Strict):
    name: str
    arguments: str


class _ToolCall(_Strict):
    id: str
    function: _Function
    type: Literal["function"] = "function"


class _System(_Strict, tag="system", tag_field="role"):
    content: str | list[_TextContent]
    name: str | None = None


class _Developer(_Strict, tag="developer", tag_field="role"):
    content: str | list[_TextContent]
    name: str | None = None


class _User(_Strict, tag="user", tag_field="role"):
    content: _Content
    name: str | None = None


class _Assistant(_Strict, tag="assistant", tag_field="role"):
    content: str | list[_TextContent] | None = None
    tool_calls: list[_ToolCall] | None = None
    name: str | None = None
    refusal: str | None = None
    # Present when clients send back a previous response message as-is; it is output metadata
    # (citations), not input, so it is accepted and not forwarded.
    annotations: list[Any] | None = None


class _ToolMessage(_Strict, tag="tool", tag_field="role"):
    content: str | list[_TextContent]
    tool_call_id: str


_Message = _System | _Developer | _User | _Assistant | _ToolMessage


class _FunctionDef(_Strict):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class _ToolDef(_Strict):
    function: _FunctionDef
    type: Literal["function"] = "function"


class _NamedFunction(_Strict):
    name: str


class _NamedToolChoice(_Strict):
    function: _NamedFunction
    type: Literal["function"] = "function"


class _JSONSchema(_Strict):
    name: str
    schema: dict[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None


class _ResponseFormat(_Strict):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: _JSONSchema | None = None


class _StreamOptions(_Strict):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None


class _ChatBody(msgspec.Struct, omit_defaults=True):
    model: str
    messages: list[_Message]
    tools: list[_ToolDef] | None = None
    tool_choice: Literal["none", "auto", "required"] | _NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: _ResponseFormat | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias: dict[str, float] | None = None
    user: str | None = None
    stream: bool | None = None
    stream_options: _StreamOptions | None = None


_KNOWN_FIELDS = frozenset(_ChatBody.__struct_fields__)


def _parts(content: _Content | list[_TextContent] | None) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)]
    parts: list[Part] = []
    for item in content:
        if isinstance(item, _TextContent):
            parts.append(TextPart(item.text))
        else:
            parts.append(ImagePart(item.image_url.url, item.image_url.detail))
    return parts


def _message(raw: _Message) -> Message:
    if isinstance(raw, _System | _Developer):
        return Message(role="system", content=_parts(raw.content), name=raw.name)
    if isinstance(raw, _User):
        return Message(role="user", content=_parts(raw.content), name=raw.name)
    if isinstance(raw, _ToolMessage):
        return Message(role="tool", content=_parts(raw.content), tool_call_id=raw.tool_call_id)
    content = _parts(raw.content)
    if not content and raw.refusal:
        content = [TextPart(raw.refusal)]
    calls = [ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments) for c in raw.tool_calls or []]
    return Message(role="assistant", content=content, tool_calls=calls, name=raw.name)



def _check_ranges(body: _ChatBody) -> None:
    checks: list[tuple[bool, str, str]] = [
        (not body.messages, "messages", "must contain at least one message"),
        (body.n is not None and body.n < 1, "n", "must be at least 1"),
        (body.temperature is not None and not 0 <= body.temperature <= 2, "temperature", "must be between 0 and 2"),
        (body.top_p is not None and not 0 <= body.top_p <= 1, "top_p", "must be between 0 and 1"),
        (body.max_tokens is not None and body.max_tokens < 1, "max_tokens", "must be at least 1"),
        (
            body.max_completion_tokens is not None and body.max_completion_tokens < 1,
            "max_completion_tokens",
            "must be at least 1",
        ),
        (isinstance(body.stop, list) and len(body.stop) > 4, "stop", "takes at most 4 sequences"),
    ]
    for failed, param, message in checks:
        if failed:
            raise InvalidRequestError(f"'{param}' {message}", param=param)
    if body.stream_options is not None and not body.stream:
        raise InvalidRequestError("'stream_options' is only allowed when 'stream' is true", param="stream_options")
    if body.response_format and body.response_format.type == "json_schema" and body.response_format.json_schema is None:
        raise InvalidRequestError("response_format of type json_schema needs 'json_schema'", param="response_format")


def _tool_choice(raw: _ChatBody) -> ToolChoice | None:
    if raw.tool_choice is None:
        return None
    if isinstance(raw.tool_choice, str):
        return ToolChoice(raw.tool_choice)
    return ToolChoice("tool", raw.tool_choice.function.name)


def _response_format(raw: _ResponseFormat | None) -> ResponseFormat | None:
    if raw is None:
        return None
    schema = raw.json_schema
    if schema is None:
        return ResponseFormat(type=raw.type)
    return ResponseFormat(
        type=raw.type, name=schema.name, schema=schema.schema, strict=schema.strict, description=schema.description
    )


def parse_chat_request(body: bytes) -> ChatRequest:
    """Parse and validate an OpenAI ``/v1/chat/completions`` body; raises ``InvalidRequestError``."""
    data = json_object(body)
    extra = {k: v for k, v in data.items() if k not in _KNOWN_FIELDS}
    raw = convert_body(data, _ChatBody)
    _check_ranges(raw)
    stop = [raw.stop] if isinstance(raw.stop, str) else list(raw.stop or [])
    request = ChatRequest(
        model=raw.model,
        messages=[_message(m) for m in raw.messages],
        tools=[
            Tool(
                name=t.function.name,
                description=t.function.description,
                parameters=t.function.parameters or {"type": "object", "properties": {}},
                strict=t.function.strict,
            )
            for t in raw.tools or []
        ],
        tool_choice=_tool_choice(raw),
        parallel_tool_calls=raw.parallel_tool_calls,
        response_format=_response_format(raw.response_format),
        temperature=raw.temperature,
        top_p=raw.top_p,
        max_tokens=raw.max_completion_tokens if raw.max_completion_tokens is not None else raw.max_tokens,
        stop=stop,
        seed=raw.seed,
        n=raw.n,
        presence_penalty=raw.presence_penalty,
        frequency_penalty=raw.frequency_penalty,
        logprobs=raw.logprobs,
        top_logprobs=raw.top_logprobs,
        logit_bias=raw.logit_bias,
        user=raw.user,
        stream=bool(raw.stream),
        include_usage=bool(raw.stream_options and raw.stream_options.include_usage),
        extra=extra,
    )
    return check_tool_choice(request, "tool_choice")
