"""Canonical responses, stream chunks and errors → Anthropic's Messages wire shapes.

Whatever provider answered, the client sees a Messages API answer: ``msg_`` ids, ``text`` and ``tool_use`` blocks,
Anthropic stop reasons and usage (``input_tokens`` without cache reads, as Anthropic counts them, and
``cache_read_input_tokens``), and the SSE sequence ``message_start`` → ``ping`` → per block ``content_block_start`` →
``content_block_delta``… → ``content_block_stop`` → ``message_delta`` (stop reason and final usage) →
``message_stop``. A failure after the stream began is an ``event: error`` frame, which the SDKs raise.

Two things the canonical model does not keep: which stop sequence ended an answer (every provider's "stop" maps to
``end_turn``, ``stop_sequence`` is null) and cache-write token counts (reported inside ``input_tokens``).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from ..errors import MalformedResponseError, SwitchyardError
from ..types import ChatChunk, ChatResponse, Choice, FinishReason, Message, TextPart, ToolCallDelta, Usage

__all__ = ["MessageStream", "error_type", "message_id", "render_error", "render_message", "render_stream_error"]

STOP_REASONS: Final[dict[FinishReason, str]] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "error": "end_turn",
}

_ERROR_TYPES: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    """Anthropic's ``error.type`` for an HTTP status: the SDKs pick their exception class by status, and clients
    that look at the type find the one Anthropic pairs with it."""
    known = _ERROR_TYPES.get(status)
    if known is not None:
        return known
    return "invalid_request_error" if status < 500 else "api_error"


def _error_body(exc: SwitchyardError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type(exc.status_code), "message": exc.message}}


def render_error(exc: SwitchyardError) -> bytes:
    """``{"type": "error", "error": {"type": ..., "message": ...}}``; the message names what is wrong."""
    return orjson.dumps(_error_body(exc))


def render_stream_error(exc: SwitchyardError) -> bytes:
    return _event("error", _error_body(exc))


def message_id(response_id: str) -> str:
    """Anthropic's ``msg_`` id: the upstream's own when it is one, else the upstream id prefixed."""
    return response_id if response_id.startswith("msg_") else f"msg_{response_id}"


def _usage(usage: Usage | None) -> dict[str, Any]:
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0}
    return {
        "input_tokens": usage.input_tokens - usage.cached_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.output_tokens,
    }


def _tool_input(call_id: str, arguments: str, *, cut: bool) -> dict[str, Any]:
    """``cut``: the answer ran out of output tokens, so the last call's arguments may be half written."""
    if not arguments.strip():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        if cut:
            # A call cut short has no input to give; stop_reason max_tokens tells the client not to run it, and
            # failing instead would turn a paid (and cached) answer into an error on every read.
            return {}
        value = None
    if not isinstance(value, dict):
        # An Anthropic client cannot be given anything but an object; dropping the arguments would run the tool wrong.
        raise MalformedResponseError(f"the model called tool '{call_id}' with arguments that are not a JSON object")
    return value


def render_message(response: ChatResponse, model: str) -> bytes:
    """``model`` is the name the client asked for (the upstream model is in the ``x-switchyard-model`` header)."""
    # An OpenAI-compatible upstream may answer with no choice at all: an empty message, as the other formats render it.
    choice = response.choices[0] if response.choices else Choice(index=0, message=Message(role="assistant"))
    message = choice.message
    content: list[dict[str, Any]] = []
    text = "".join(p.text for p in message.content if isinstance(p, TextPart))
    if text:
        content.append({"type": "text", "text": text})
    cut = choice.finish_reason == "length"
    content.extend(
        {"type": "tool_use", "id": c.id, "name": c.name, "input": _tool_input(c.id, c.arguments, cut=cut)}
        for c in message.tool_calls
    )
    body = {
        "id": message_id(response.id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": STOP_REASONS[choice.finish_reason or "stop"],
        "stop_sequence": None,
        "usage": _usage(response.usage),
    }
    return orjson.dumps(body)


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class MessageStream:
    """Canonical chunks → the SSE events of one streamed message.

    Anthropic's content blocks are sequential: one is open at a time and has an index. Text opens a ``text`` block,
    a new tool call a ``tool_use`` block (its argument fragments become ``input_json_delta``), and whichever comes
    next closes the open one, so text and tool calls can interleave. Providers stream one tool call after another,
    so a fragment for a call whose block is already closed cannot be placed; it fails the stream rather than give
    the client a call with half its arguments.
    """

    __slots__ = ("_calls", "_finish", "_index", "_model", "_open", "_tool_block", "usage")

    def __init__(self, model: str) -> None:
        self._model = model
        self._index = -1
        self._open: str | None = None
        """``"text"``, ``"tool"`` or ``None``."""
        self._tool_block: dict[int, int] = {}
        """Canonical tool call index → its block index."""
        self._calls = 0
        self._finish: FinishReason | None = None
        self.usage: Usage | None = None

    def start(self, response_id: str, input_tokens: int = 0) -> bytes:
        """``message_start`` and a ``ping``. ``input_tokens`` is provisional: the final count is in
        ``message_delta`` (the SDKs take it from there)."""
        message: dict[str, Any] = {
            "id": message_id(response_id),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 0},
        }
        return _event("message_start", {"type": "message_start", "message": message}) + _event("ping", {"type": "ping"})

    def feed(self, chunk: ChatChunk) -> bytes:
        """The events for one chunk (often none: role-only and usage chunks only update state)."""
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.finish_reason is not None:
            self._finish = chunk.finish_reason
        out: list[bytes] = []
        if chunk.text:
            if self._open != "text":
                out.append(self._close())
                out.append(self._open_block("text", {"type": "text", "text": ""}))
            out.append(self._delta({"type": "text_delta", "text": chunk.text}))
        for delta in chunk.tool_calls:
            out.append(self._tool_delta(delta))
        return b"".join(out)

    def _tool_delta(self, delta: ToolCallDelta) -> bytes:
        out: list[bytes] = []
        block = self._tool_block.get(delta.index)
        if block is None:
            out.append(self._close())
            self._calls += 1
            call_id = delta.id or f"toolu_{self._calls:02d}"
            block = self._index + 1
            self._tool_block[delta.index] = block
            out.append(self._open_block("tool", {"type": "tool_use", "id": call_id, "name": delta.name or "",
                                                 "input": {}}))
        elif block != self._index or self._open != "tool":
            raise MalformedResponseError(
                f"the provider streamed arguments for tool call {delta.index} after a later block began"
            )
        if delta.arguments:
            out.append(self._delta({"type": "input_json_delta", "partial_json": delta.arguments}))
        return b"".join(out)

    def _open_block(self, kind: str, block: dict[str, Any]) -> bytes:
        self._index += 1
        self._open = kind
        return _event("content_block_start", {"type": "content_block_start", "index": self._index,
                                              "content_block": block})

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return _event("content_block_delta", {"type": "content_block_delta", "index": self._index, "delta": delta})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return _event("content_block_stop", {"type": "content_block_stop", "index": self._index})

    def finish(self) -> bytes:
        """Close the open block; ``message_delta`` with the stop reason and the final usage; ``message_stop``."""
        delta = {"stop_reason": STOP_REASONS[self._finish or "stop"], "stop_sequence": None}
        # Unknown usage (a provider that streams none) leaves message_start's provisional input count standing.
        usage = _usage(self.usage) if self.usage is not None else {"output_tokens": 0}
        return (
            self._close()
            + _event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage})
            + _event("message_stop", {"type": "message_stop"})
        )
