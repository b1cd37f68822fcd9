"""OpenAI Responses API requests (``POST /v1/responses``) → canonical :class:`ChatRequest`.

The Responses API is what agent frameworks speak; the gateway answers it with any provider by translating the
*stateless* subset onto the same canonical request the chat-completions ingress produces: messages (text and
images), function tools and their calls and outputs, sampling, output limit and structured output.

We store nothing. ``store`` is accepted either way (OpenAI's default is true, and clients send it without
thinking), but no response is kept, so ``previous_response_id``, ``conversation`` and ``item_reference`` inputs
are a 400 telling the client to send the whole conversation itself.

Three kinds of field get three treatments, each with a message naming the field:
- honoured: translated into the canonical request (or, like ``instructions`` and ``metadata``, echoed in the
  response object);
- accepted and dropped, because they are hints that change neither the content nor the shape of the answer and
  have no counterpart shared by every provider: ``store``, ``reasoning`` (effort and summary: the model's default
  reasoning is used; the response echoes ``reasoning`` as null so the client can see it was not applied),
  ``text.verbosity``, ``service_tier``, ``prompt_cache_key``, ``prompt_cache_retention``, ``max_tool_calls``
  (it caps OpenAI's hosted tools, which we never run), ``stream_options`` and ``include:
  ["reasoning.encrypted_content"]`` (we return no reasoning items, so there is nothing to include). Reasoning
  items in ``input`` are skipped for the same reason: their content is another model's encrypted state;
- refused: fields that would change what the client gets back and that we cannot deliver (hosted tools,
  ``truncation: "auto"``, ``background``, logprobs, stored prompts), and any field we do not know.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from ..errors import InvalidRequestError
from ..routing.needs import parse_tags
from ..types import (
    ChatRequest,
    ImagePart,
    Message,
    Part,
    ResponseFormat,
    Role,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)
from .http import check_tool_choice, convert_body, json_object

__all__ = ["ResponsesRequest", "parse_responses_request"]


class ResponsesRequest(msgspec.Struct, kw_only=True):
    """A parsed Responses request: the canonical request, plus what the response object echoes that the
    canonical request has no place for."""

    chat: ChatRequest
    instructions: str | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    """As sent, without the ``tags`` routing entry (that is on ``chat.tags``). Never sent upstream."""


class _Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    pass


class _InputText(_Strict, tag="input_text", tag_field="type"):
    text: str


class _InputImage(_Strict, tag="input_image", tag_field="type"):
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["auto", "low", "high", "original"] | None = None


class _InputFile(msgspec.Struct, tag="input_file", tag_field="type"):
    """Any ``input_file`` part, whatever its fields: refused after parsing with one clear message."""


class _OutputText(_Strict, tag="output_text", tag_field="type"):
    text: str
    # Output metadata a client sends back with an earlier answer; accepted, not forwarded.
    annotations: list[Any] | None = None
    logprobs: list[Any] | None = None


class _Refusal(_Strict, tag="refusal", tag_field="type"):
    refusal: str


_ContentPart = _InputText | _InputImage | _InputFile | _OutputText | _Refusal
_Status = Literal["in_progress", "completed", "incomplete"]


class _MessageItem(_Strict, tag="message", tag_field="type"):
    role: Literal["user", "system", "developer", "assistant"]
    content: str | list[_ContentPart]
    # Set on items copied from an earlier response's output; they describe that output, not this input.
    id: str | None = None
    status: _Status | None = None
    phase: Literal["commentary", "final_answer"] | None = None


class _FunctionCallItem(_Strict, tag="function_call", tag_field="type"):
    call_id: str
    name: str
    arguments: str
    id: str | None = None
    status: _Status | None = None


class _FunctionCallOutputItem(_Strict, tag="function_call_output", tag_field="type"):
    call_id: str
    output: str | list[_InputText | _InputImage | _InputFile]
    id: str | None = None
    status: _Status | None = None


class _ReasoningItem(msgspec.Struct, tag="reasoning", tag_field="type"):
    """Skipped whatever it holds (see the module docstring)."""


_ROLES: dict[str, Role] = {"user": "user", "system": "system", "developer": "system", "assistant": "assistant"}
_Item = _MessageItem | _FunctionCallItem | _FunctionCallOutputItem | _ReasoningItem
_ITEM_TYPES = frozenset(("message", "function_call", "function_call_output", "reasoning"))


class _FunctionTool(_Strict, tag="function", tag_field="type"):
    name: str
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None


class _NamedFunction(_Strict, tag="function", tag_field="type"):
    name: str


class _FormatText(_Strict, tag="text", tag_field="type"):
    pass


class _FormatJSONObject(_Strict, tag="json_object", tag_field="type"):
    pass


class _FormatJSONSchema(_Strict, tag="json_schema", tag_field="type"):
    name: str
    schema: dict[str, Any]
    strict: bool | None = None
    description: str | None = None


class _TextConfig(_Strict):
    format: _FormatText | _FormatJSONObject | _FormatJSONSchema | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class _Reasoning(_Strict):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None


class _StreamOptions(_Strict):
    include_obfuscation: bool | None = None


class _Body(msgspec.Struct):
    model: str
    input: str | list[_Item]
    instructions: str | None = None
    tools: list[_FunctionTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | _NamedFunction | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    text: _TextConfig | None = None
    stream: bool | None = None
    user: str | None = None
    safety_identifier: str | None = None
    metadata: dict[str, str] | None = None
    max_cost: float | str | None = None
    """Switchyard's own per-request cost ceiling, as on chat completions."""
    # Accepted and dropped (module docstring).
    store: bool | None = None
    reasoning: _Reasoning | None = None
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    max_tool_calls: int | None = None
    stream_options: _StreamOptions | None = None
    include: list[str] | None = None
    # Accepted only at the value that means what we do anyway.
    truncation: Literal["auto", "disabled"] | None = None
    background: bool | None = None
    previous_response_id: str | None = None
    conversation: str | dict[str, Any] | None = None


_KNOWN_FIELDS = frozenset(_Body.__struct_fields__)
_STATELESS_HINT = "stored conversations are not supported yet; send the full input with store: false"
_REFUSED_FIELDS = {
    "prompt": "stored prompts are not supported; send 'instructions' and 'input' instead",
    "top_logprobs": "logprobs are not supported on /v1/responses",
    "context_management": "server-side context compaction is not supported; send the input you want answered",
    "background_options": "background responses are not supported",
    "moderation": "moderated responses are not supported",
    "prompt_cache_options": "prompt cache options are not supported",
    "image": "image context options are not supported",
    "access_programs": "access programs are not supported",
}
_INCLUDABLE = frozenset(("reasoning.encrypted_content",))


def _refuse(message: str, param: str, code: str = "unsupported_parameter") -> InvalidRequestError:
    return InvalidRequestError(message, param=param, code=code)


def _check_fields(data: dict[str, Any]) -> None:
    for name in data:
        if name in _KNOWN_FIELDS:
            continue
        if name in _REFUSED_FIELDS:
            raise _refuse(f"'{name}': {_REFUSED_FIELDS[name]}", name)
        raise _refuse(f"unknown parameter '{name}'", name, code="unknown_parameter")
    if "input" not in data:
        raise InvalidRequestError("'input' is required: send the conversation as a string or a list of items",
                                  param="input")


def _check_items(items: Any) -> None:
    """Name the item type we cannot carry before msgspec reports a bare ``Invalid value``. Easy input messages
    may omit ``type``; they get ``message`` here so the tagged union can take them."""
    if not isinstance(items, list):
        return
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind is None and "role" in item:
            item["type"] = "message"
        elif kind == "item_reference" or (kind is None and "id" in item):
            raise _refuse(f"input[{i}] is an item reference: {_STATELESS_HINT}", f"input[{i}]")
        elif isinstance(kind, str) and kind not in _ITEM_TYPES:
            raise _refuse(
                f"input[{i}] has type '{kind}', which is not supported: the gateway carries messages, "
                "function_call and function_call_output items (and skips reasoning items)",
                f"input[{i}].type",
            )


def _check_tools(data: dict[str, Any]) -> None:
    tools = data.get("tools")
    for i, tool in enumerate(tools if isinstance(tools, list) else []):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if isinstance(kind, str) and kind != "function":
            raise _refuse(
                f"tool type '{kind}' is not supported: hosted tools run on OpenAI's servers and this gateway "
                "answers with any provider; declare a 'function' tool and run it yourself",
                f"tools[{i}].type",
            )
    choice = data.get("tool_choice")
    if isinstance(choice, dict) and isinstance(choice.get("type"), str) and choice["type"] != "function":
        raise _refuse(
            f"tool_choice type '{choice['type']}' is not supported; use 'auto', 'none', 'required' or "
            "{\"type\": \"function\", \"name\": ...}",
            "tool_choice.type",
        )



def _check_values(body: _Body) -> None:
    checks: list[tuple[bool, str, str]] = [
        (body.temperature is not None and not 0 <= body.temperature <= 2, "temperature", "must be between 0 and 2"),
        (body.top_p is not None and not 0 <= body.top_p <= 1, "top_p", "must be between 0 and 1"),
        (body.max_output_tokens is not None and body.max_output_tokens < 1, "max_output_tokens",
         "must be at least 1"),
        (body.input == [] or body.input == "", "input", "must not be empty"),
    ]
    for failed, param, message in checks:
        if failed:
            raise InvalidRequestError(f"'{param}' {message}", param=param)
    if body.previous_response_id is not None:
        raise _refuse(f"'previous_response_id': {_STATELESS_HINT}", "previous_response_id")
    if body.conversation is not None:
        raise _refuse(f"'conversation': {_STATELESS_HINT}", "conversation")
    if body.background:
        raise _refuse("'background': background responses are not supported; send the request and wait for it "
                      "(or stream it)", "background")
    if body.truncation == "auto":
        raise _refuse("'truncation': 'auto' is not supported: the gateway never drops input items; send an input "
                      "that fits the model's context window (truncation 'disabled')", "truncation")
    for value in body.include or []:
        if value not in _INCLUDABLE:
            raise _refuse(f"'include': '{value}' is not supported", "include")


def _image(part: _InputImage, where: str) -> ImagePart:
    if part.image_url is None:
        hint = "file_id images need OpenAI's Files API" if part.file_id else "an input_image needs 'image_url'"
        raise _refuse(f"{where}: {hint}; send 'image_url' as a URL or a data: URI", where)
    # "original" asks for no downscaling, the most detail there is; "high" is the nearest every provider knows.
    detail = "high" if part.detail == "original" else part.detail
    return ImagePart(part.image_url, detail)


def _parts(content: str | list[_ContentPart], role: str, where: str) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)]
    parts: list[Part] = []
    for j, part in enumerate(content):
        at = f"{where}.content[{j}]"
        if isinstance(part, _InputText | _OutputText):
            parts.append(TextPart(part.text))
        elif isinstance(part, _Refusal):
            parts.append(TextPart(part.refusal))
        elif isinstance(part, _InputFile):
            raise _refuse(f"{at}: input_file content is not supported; send text or images", at)
        elif role != "user":
            raise _refuse(f"{at}: images are only allowed in user messages", at)
        else:
            parts.append(_image(part, at))
    return parts


def _tool_output(output: str | list[_InputText | _InputImage | _InputFile], where: str) -> list[Part]:
    if isinstance(output, str):
        return [TextPart(output)]
    parts: list[Part] = []
    for j, part in enumerate(output):
        if not isinstance(part, _InputText):
            at = f"{where}.output[{j}]"
            raise _refuse(f"{at}: function_call_output carries text only", at)
        parts.append(TextPart(part.text))
    return parts


def _messages(body: _Body) -> list[Message]:
    messages: list[Message] = []
    if body.instructions:
        messages.append(Message.system(body.instructions))
    if isinstance(body.input, str):
        messages.append(Message.user(body.input))
        return messages
    for i, item in enumerate(body.input):
        where = f"input[{i}]"
        if isinstance(item, _MessageItem):
            messages.append(Message(role=_ROLES[item.role], content=_parts(item.content, item.role, where)))
        elif isinstance(item, _FunctionCallItem):
            call = ToolCall(id=item.call_id, name=item.name, arguments=item.arguments)
            # A response's output is a text item and then one item per call; in canonical form (and every
            # provider's) they are one assistant turn, so calls join the assistant turn just before them.
            last = messages[-1] if messages else None
            if last is not None and last.role == "assistant":
                last.tool_calls.append(call)
            else:
                messages.append(Message(role="assistant", tool_calls=[call]))
        elif isinstance(item, _FunctionCallOutputItem):
            content = _tool_output(item.output, where)
            messages.append(Message(role="tool", content=content, tool_call_id=item.call_id))
        # A _ReasoningItem is skipped (module docstring).
    if not any(m.role != "system" for m in messages):
        raise InvalidRequestError("'input' holds no message to answer", param="input")
    return messages


def _tool_choice(raw: _Body) -> ToolChoice | None:
    if raw.tool_choice is None:
        return None
    if isinstance(raw.tool_choice, str):
        return ToolChoice(raw.tool_choice)
    return ToolChoice("tool", raw.tool_choice.name)


def _response_format(text: _TextConfig | None) -> ResponseFormat | None:
    form = text.format if text is not None else None
    if form is None:
        return None
    if isinstance(form, _FormatJSONSchema):
        return ResponseFormat(
            type="json_schema", name=form.name, schema=form.schema, strict=form.strict, description=form.description
        )
    return ResponseFormat(type="json_object" if isinstance(form, _FormatJSONObject) else "text")


def _metadata(raw: dict[str, str] | None) -> tuple[dict[str, str], list[str]]:
    """``(metadata to echo, routing tags)``: ``metadata.tags`` routes the request, as on chat completions."""
    if not raw:
        return {}, []
    metadata = dict(raw)
    tags = parse_tags(metadata.pop("tags", ""))
    return metadata, tags


def parse_responses_request(body: bytes) -> ResponsesRequest:
    """Parse and validate a ``/v1/responses`` body; raises ``InvalidRequestError`` naming what is wrong."""
    data = json_object(body)
    _check_fields(data)
    _check_items(data.get("input"))
    _check_tools(data)
    raw = convert_body(data, _Body)
    _check_values(raw)
    metadata, tags = _metadata(raw.metadata)
    chat = ChatRequest(
        model=raw.model,
        messages=_messages(raw),
        tools=[
            Tool(
                name=t.name,
                description=t.description,
                parameters=t.parameters or {"type": "object", "properties": {}},
                strict=t.strict,
            )
            for t in raw.tools or []
        ],
        tool_choice=_tool_choice(raw),
        parallel_tool_calls=raw.parallel_tool_calls,
        response_format=_response_format(raw.text),
        temperature=raw.temperature,
        top_p=raw.top_p,
        max_tokens=raw.max_output_tokens,
        user=raw.user if raw.user is not None else raw.safety_identifier,
        stream=bool(raw.stream),
        # The gateway's app layer takes max_cost out of ``extra`` before anything is sent upstream.
        extra={"max_cost": raw.max_cost} if raw.max_cost is not None else {},
        tags=tags,
    )
    check_tool_choice(chat, "tool_choice")
    return ResponsesRequest(chat=chat, instructions=raw.instructions, metadata=metadata)
