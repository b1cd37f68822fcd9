"""Canonical answers → OpenAI Responses API objects and stream events.

A non-streamed answer is one ``response`` object; a stream is the Responses API's semantic events, each with a
``sequence_number``: ``response.created`` and ``response.in_progress``, then per output item
``output_item.added`` → (``content_part.added`` → ``output_text.delta``… → ``output_text.done`` →
``content_part.done`` | ``function_call_arguments.delta``… → ``function_call_arguments.done``) →
``output_item.done``, and finally ``response.completed`` or ``response.incomplete`` carrying the whole response
with usage. A failure after output has started is an ``error`` event followed by ``response.failed``.

Ids are derived from the request id (``resp_<id>``, ``msg_<id>``, ``fc_<id>_<n>``) so a response can be found
in the gateway's logs; ``call_id`` is the provider's own tool-call id, which the client sends back in
``function_call_output`` and the provider expects to see again.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import orjson

from ..errors import RateLimitedError, SwitchyardError
from ..types import ChatChunk, ChatResponse, FinishReason, Message, ResponseFormat, TextPart, ToolCall, Usage
from .responses_ingress import ResponsesRequest

__all__ = ["ResponseEvents", "render_response"]

Status = Literal["completed", "incomplete", "failed"]


def _status(finish: FinishReason | None) -> tuple[Status, dict[str, str] | None]:
    """The response status and ``incomplete_details`` for a finish reason."""
    if finish == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    if finish == "error":
        return "failed", None
    return "completed", None


def _format(form: ResponseFormat | None) -> dict[str, Any]:
    if form is None or form.type != "json_schema":
        return {"type": form.type if form else "text"}
    out: dict[str, Any] = {"type": "json_schema", "name": form.name, "schema": form.schema, "strict": form.strict}
    if form.description is not None:
        out["description"] = form.description
    return out


def _tool_choice(request: ResponsesRequest) -> str | dict[str, str]:
    choice = request.chat.tool_choice
    if choice is None:
        return "auto"
    if choice.mode == "tool":
        return {"type": "function", "name": choice.name or ""}
    return choice.mode


def _skeleton(request: ResponsesRequest, response_id: str, created_at: int) -> dict[str, Any]:
    """The response object before any output: the request's settings echoed as OpenAI echoes them."""
    chat = request.chat
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": request.instructions,
        "max_output_tokens": chat.max_tokens,
        "model": chat.model,
        "output": [],
        "parallel_tool_calls": chat.parallel_tool_calls is not False,
        "previous_response_id": None,
        # Never applied (responses_ingress): null says so.
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": chat.temperature,
        "text": {"format": _format(chat.response_format)},
        "tool_choice": _tool_choice(request),
        "tools": [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
                "strict": t.strict,
            }
            for t in chat.tools
        ],
        "top_p": chat.top_p,
        "truncation": "disabled",
        "usage": None,
        "user": chat.user,
        "metadata": request.metadata,
    }


def _usage(usage: Usage | None, cost_usd: float | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    return {
        "input_tokens": usage.input_tokens,
        # The schema requires cache_write_tokens and typed SDKs (Go, Java, .NET) reject a body without it. Canonical
        # usage has no field for cache writes yet (Anthropic's are folded into input_tokens): 0 reported apart.
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
        # An extension, as on chat completions (the SDK keeps unknown fields); unknown prices stay null.
        "cost_usd": cost_usd,
    }


def _message_item(item_id: str, text: str, status: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def _call_item(item_id: str, call: ToolCall, status: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call.id,
        "name": call.name,
        "arguments": call.arguments,
    }


def _output(message: Message, request_id: str, status: str) -> list[dict[str, Any]]:
    text = "".join(p.text for p in message.content if isinstance(p, TextPart))
    items = []
    if text or not message.tool_calls:
        items.append(_message_item(f"msg_{request_id}", text, status))
    items.extend(_call_item(f"fc_{request_id}_{n}", call, status) for n, call in enumerate(message.tool_calls))
    return items


def _failure(exc: SwitchyardError) -> dict[str, str]:
    """``response.error``: OpenAI's schema knows only a few codes; a rate limit is one, the rest are server-side
    as far as the client can act on them."""
    return {
        "code": "rate_limit_exceeded" if isinstance(exc, RateLimitedError) else "server_error",
        "message": exc.message,
    }


def render_response(request: ResponsesRequest, response: ChatResponse, request_id: str) -> bytes:
    """One ``response`` object for a non-streamed answer; ``model`` echoes the name the client asked for."""
    body = _skeleton(request, f"resp_{request_id}", response.created)
    choice = response.choices[0] if response.choices else None
    status, incomplete = _status(choice.finish_reason if choice else None)
    item_status = "incomplete" if status != "completed" else "completed"
    body["status"] = status
    body["incomplete_details"] = incomplete
    if status == "failed":
        body["error"] = {"code": "server_error", "message": "the model stopped with an error"}
    body["output"] = _output(choice.message, request_id, item_status) if choice else []
    body["usage"] = _usage(response.usage, response.meta.cost_usd if response.meta else None)
    body["completed_at"] = int(time.time()) if status == "completed" else None
    return orjson.dumps(body)


class _OpenCall:
    __slots__ = ("arguments", "call_id", "item_id", "name", "output_index")

    def __init__(self, item_id: str, output_index: int, call_id: str, name: str) -> None:
        self.item_id = item_id
        self.output_index = output_index
        self.call_id = call_id
        self.name = name
        self.arguments: list[str] = []

    def item(self, status: str) -> dict[str, Any]:
        return _call_item(self.item_id, ToolCall(self.call_id, self.name, "".join(self.arguments)), status)


class ResponseEvents:
    """Turns one answer's canonical chunks into Responses stream events (SSE bytes), in order.

    At most one message item (all text goes into it, whenever it arrives) and one function-call item per tool
    call; items are opened when their first piece arrives and closed together, in output order, at the end."""

    def __init__(self, request: ResponsesRequest, request_id: str, created_at: int) -> None:
        self._request = request
        self._request_id = request_id
        self._response = _skeleton(request, f"resp_{request_id}", created_at)
        self._sequence = 0
        self._items = 0
        self._message_index: int | None = None
        self._text: list[str] = []
        self._calls: dict[int, _OpenCall] = {}
        self.finish: FinishReason | None = None
        self.usage: Usage | None = None

    def _event(self, kind: str, **fields: Any) -> bytes:
        body = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(body) + b"\n\n"

    def start(self) -> bytes:
        return self._event("response.created", response=self._response) + self._event(
            "response.in_progress", response=self._response
        )

    def chunk(self, chunk: ChatChunk) -> bytes:
        """Events for one chunk (often one delta, sometimes none). Only the first choice is rendered: the
        Responses API has no ``n``."""
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.finish_reason is not None:
            self.finish = chunk.finish_reason
        if chunk.index:
            return b""
        out = b""
        if chunk.text:
            out += self._open_message() + self._event(
                "response.output_text.delta",
                item_id=self._message_id,
                output_index=self._message_index,
                content_index=0,
                delta=chunk.text,
                logprobs=[],
            )
            self._text.append(chunk.text)
        for delta in chunk.tool_calls:
            call = self._calls.get(delta.index)
            if call is None:
                call = _OpenCall(f"fc_{self._request_id}_{len(self._calls)}", self._items, delta.id or "",
                                 delta.name or "")
                self._calls[delta.index] = call
                self._items += 1
                out += self._event("response.output_item.added", output_index=call.output_index,
                                   item=call.item("in_progress"))
            elif delta.name and not call.name:
                call.name = delta.name
            if delta.arguments:
                call.arguments.append(delta.arguments)
                out += self._event("response.function_call_arguments.delta", item_id=call.item_id,
                                   output_index=call.output_index, delta=delta.arguments)
        return out

    @property
    def _message_id(self) -> str:
        return f"msg_{self._request_id}"

    def _open_message(self) -> bytes:
        if self._message_index is not None:
            return b""
        self._message_index, self._items = self._items, self._items + 1
        item = {"id": self._message_id, "type": "message", "status": "in_progress", "role": "assistant",
                "content": []}
        return self._event("response.output_item.added", output_index=self._message_index, item=item) + self._event(
            "response.content_part.added",
            item_id=self._message_id,
            output_index=self._message_index,
            content_index=0,
            part={"type": "output_text", "text": "", "annotations": [], "logprobs": []},
        )

    def _outputs(self, status: str) -> list[tuple[int, dict[str, Any]]]:
        items = [(call.output_index, call.item(status)) for call in self._calls.values()]
        if self._message_index is not None:
            items.append((self._message_index, _message_item(self._message_id, "".join(self._text), status)))
        return sorted(items, key=lambda pair: pair[0])

    def finish_events(self, cost_usd: float | None) -> bytes:
        """Close every item and end with ``response.completed`` (or ``.incomplete``) carrying the response."""
        # An empty answer is still a message, so ``output_text`` is "" rather than missing.
        out = b"" if self._calls else self._open_message()
        status, incomplete = _status(self.finish)
        item_status = "completed" if status == "completed" else "incomplete"
        outputs = self._outputs(item_status)
        for index, item in outputs:
            if item["type"] == "message":
                text = item["content"][0]["text"]
                out += self._event("response.output_text.done", item_id=item["id"], output_index=index,
                                   content_index=0, text=text, logprobs=[])
                out += self._event("response.content_part.done", item_id=item["id"], output_index=index,
                                   content_index=0, part=item["content"][0])
            else:
                out += self._event("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                                   arguments=item["arguments"])
            out += self._event("response.output_item.done", output_index=index, item=item)
        response = dict(self._response, status=status, incomplete_details=incomplete,
                        output=[item for _, item in outputs], usage=_usage(self.usage, cost_usd))
        if status == "failed":
            response["error"] = {"code": "server_error", "message": "the model stopped with an error"}
            return out + self._event("response.failed", response=response)
        if status == "completed":
            response["completed_at"] = int(time.time())
            return out + self._event("response.completed", response=response)
        return out + self._event("response.incomplete", response=response)

    def failure_events(self, exc: SwitchyardError) -> bytes:
        """After a mid-stream failure: an ``error`` event, then ``response.failed`` with the output so far."""
        error = self._event("error", code=exc.code or exc.error_type, message=exc.message, param=exc.param)
        response = dict(self._response, status="failed", error=_failure(exc),
                        output=[item for _, item in self._outputs("incomplete")], usage=_usage(self.usage, None))
        return error + self._event("response.failed", response=response)
