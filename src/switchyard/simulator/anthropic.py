"""Simulated Anthropic Messages API, as the official ``anthropic`` SDK calls it (``base_url`` is the host).

Serves ``POST /v1/messages`` (JSON, or SSE with ``"stream": true``) and ``POST /v1/messages/count_tokens``. The key
comes in ``x-api-key`` (or ``Authorization: Bearer``); ``anthropic-version`` is required, as upstream. Overload is
HTTP 529 and a content-classifier refusal is a 200 with ``stop_reason: "refusal"``, as upstream.

Requests are checked where adapters tend to go wrong: ``max_tokens`` is required (0 only warms the cache), unknown
top-level fields are rejected ("Extra inputs are not permitted"), ``temperature`` is capped at 1, roles are
``user``/``assistant`` (and text-only ``system`` turns, as the 2.x SDK sends them), text blocks must not be empty,
tools need an object ``input_schema`` (OpenAI-shaped tools are rejected), and every ``tool_use`` must be answered by
a ``tool_result`` in the very next user turn (and every result must answer a call of the turn before). Turns need
not alternate.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import itertools
import re
from typing import Any, ClassVar, Final

import orjson
from aiohttp import web

from .base import INVALID_KEYS, ErrorKind, ProviderSim, sse
from .reply import Prompt, Reply, SimToolCall, estimate_tokens, reply, split_text

__all__ = ["AnthropicSim"]

_COUNT_FIELDS: Final = frozenset({
    "model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers", "context_management",
    "output_config", "cache_control", "speed",
})
_FIELDS: Final = _COUNT_FIELDS | {
    "max_tokens", "metadata", "stop_sequences", "stream", "temperature", "top_k", "top_p", "service_tier",
    "container", "diagnostics", "inference_geo",
}
_TOOL_FIELDS: Final = frozenset({
    "type", "name", "description", "input_schema", "cache_control", "strict", "input_examples", "defer_loading",
    "allowed_callers", "eager_input_streaming",
})
_ERROR_TYPES: Final[dict[str, str]] = {
    "invalid_request": "invalid_request_error",
    "auth": "authentication_error",
    "not_found": "not_found_error",
    "rate_limit": "rate_limit_error",
    "overloaded": "overloaded_error",
    "server": "api_error",
    "unavailable": "api_error",
    "context_length": "invalid_request_error",
}
_STOP_REASONS: Final = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
# Blocks a conversation may carry back (reasoning, server-side tool traffic, documents) that the reply ignores.
_IGNORED_BLOCKS: Final = frozenset({
    "thinking", "redacted_thinking", "document", "search_result", "server_tool_use", "web_search_tool_result",
    "web_fetch_tool_result", "code_execution_tool_result", "mcp_tool_use", "mcp_tool_result", "container_upload",
})
_MEDIA_TYPES: Final = ("image/jpeg", "image/png", "image/gif", "image/webp")
# Anthropic-defined tools are versioned by date (``web_search_20250305``, ``bash_20250124``) and carry no schema.
_VERSIONED_TOOL: Final = re.compile(r"[a-z_]+_\d{8}")
_TOOL_NAME: Final = re.compile(r"[a-zA-Z0-9_-]{1,128}")
_request_ids = itertools.count(1)


def _blocks(content: Any, where: str, *, may_be_empty: bool = False) -> list[dict[str, Any]]:
    """A turn's content as blocks (a string is shorthand for one text block)."""
    if isinstance(content, str):
        content = [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise ValueError(f"{where}.content: Input should be a valid list")
    if not content and not may_be_empty:
        raise ValueError(f"{where}: all messages must have non-empty content except for the optional final "
                         "assistant message")
    for i, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise ValueError(f"{where}.content.{i}: Input should be a valid dictionary")
        if block["type"] == "text" and (not isinstance(block.get("text"), str) or not block["text"]):
            raise ValueError(f"{where.split('.')[0]}: text content blocks must be non-empty")
    return content


def _image(block: dict[str, Any], where: str) -> None:
    source = block.get("source")
    source = source if isinstance(source, dict) else {}
    kind = source.get("type")
    if kind == "base64":
        if source.get("media_type") not in _MEDIA_TYPES:
            raise ValueError(f"{where}.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', "
                             "'image/gif' or 'image/webp'")
        if not source.get("data"):
            raise ValueError(f"{where}.image.source.base64.data: Field required")
        try:
            # A data URL in ``data`` (the OpenAI shape) is the classic mistake: it is not base64.
            base64.b64decode(source["data"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"{where}.image.source.base64.data: invalid base64 data") from exc
    elif kind == "url":
        if not source.get("url"):
            raise ValueError(f"{where}.image.source.url.url: Field required")
    elif kind != "file":
        raise ValueError(f"{where}.image.source: Input tag {kind!r} found using 'type' does not match any of the "
                         "expected tags: 'base64', 'file', 'url'")


def _check_body(data: dict[str, Any], *, counting: bool) -> None:
    """Top-level fields, checked before anything else as upstream does; raises ``ValueError``."""
    if not isinstance(data.get("model"), str) or not data["model"]:
        raise ValueError("model: Field required")
    fields = _COUNT_FIELDS if counting else _FIELDS
    for name in data:
        if name not in fields:
            raise ValueError(f"{name}: Extra inputs are not permitted")
    if counting:
        return
    max_tokens = data.get("max_tokens")
    if max_tokens is None:
        raise ValueError("max_tokens: Field required")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0:
        raise ValueError("max_tokens: Input should be greater than or equal to 0")
    for name in ("temperature", "top_p"):
        value = data.get(name)
        if value is not None and (not isinstance(value, int | float) or not 0 <= value <= 1):
            # OpenAI's temperature goes to 2; passing it through unchanged is a common adapter bug.
            raise ValueError(f"{name}: Input should be less than or equal to 1")
    for name in data.get("metadata") or {}:
        if name != "user_id":
            raise ValueError(f"metadata.{name}: Extra inputs are not permitted")
    stops = data.get("stop_sequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) and s.strip() for s in stops):
        # OpenAI clients often stop on "\n"; upstream refuses whitespace-only sequences.
        raise ValueError("stop_sequences: each stop sequence must contain non-whitespace")
    thinking = data.get("thinking") or {}
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            raise ValueError("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        if max_tokens <= budget:
            raise ValueError("`max_tokens` must be greater than `thinking.budget_tokens`")
    if thinking.get("type") in ("enabled", "adaptive"):
        if data.get("temperature") not in (None, 1):
            raise ValueError("`temperature` may only be set to 1 when thinking is enabled or in adaptive mode.")
        if (data.get("tool_choice") or {}).get("type") in ("any", "tool"):
            raise ValueError("Thinking may not be enabled when tool_choice forces tool use.")


class AnthropicSim(ProviderSim):
    name: ClassVar[str] = "anthropic"

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/messages", self.messages), web.post("/v1/messages/count_tokens", self.count_tokens)]

    def api_key(self, request: web.Request) -> str | None:
        key = request.headers.get("x-api-key")
        auth = request.headers.get("authorization", "")
        if not key and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        return key

    async def _body(self, request: web.Request, *, counting: bool = False) -> dict[str, Any] | web.Response:
        key = self.api_key(request)
        if not key:
            return self.error_response("auth", 401, "x-api-key header is required")
        if key in INVALID_KEYS:
            return self.error_response("auth", 401, "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return self.error_response("invalid_request", 400, "anthropic-version: header is required")
        try:
            data = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return self.error_response("invalid_request", 400, "There was an error parsing the body of your request.")
        if not isinstance(data, dict):
            return self.error_response("invalid_request", 400, "Input should be a valid dictionary")
        try:
            _check_body(data, counting=counting)
        except (ValueError, TypeError, AttributeError) as exc:
            return self.error_response("invalid_request", 400, str(exc))
        return data

    async def messages(self, request: web.Request) -> web.StreamResponse:
        data = await self._body(request)
        if isinstance(data, web.Response):
            return data
        return await self.handle(request, data["model"], bool(data.get("stream")), data)

    async def count_tokens(self, request: web.Request) -> web.Response:
        data = await self._body(request, counting=True)
        if isinstance(data, web.Response):
            return data
        try:
            prompt = self.parse(data, data["model"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return self.error_response("invalid_request", 400, str(exc))
        return web.json_response({"input_tokens": reply(prompt).input_tokens})

    # -- wire → prompt --------------------------------------------------------------------------------------

    def parse(self, data: Any, model: str) -> Prompt:
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages: List should have at least 1 item after validation, not 0")
        prompt = Prompt(model=model)
        texts: list[str] = []
        system = data.get("system")
        if isinstance(system, str):
            texts.append(system)
        elif system is not None:
            texts.extend(b["text"] for b in _blocks(system, "system", may_be_empty=True) if b["type"] == "text")
        pending: list[str] = []  # tool_use ids the next user turn must answer
        results: list[str] = []
        for position, message in enumerate(messages):
            pending, given = self._turn(message, position, len(messages), pending, prompt, texts)
            if given is not None:
                results = given
        # The last user turn decides what is being answered: a question, or the results of the calls just made (an
        # assistant prefill after it changes nothing).
        prompt.last_is_tool_result = bool(results)
        prompt.tool_result_text = "\n".join(results)
        self._tools(data.get("tools"), prompt, texts)
        self._tool_choice(data.get("tool_choice"), prompt)
        fmt = (data.get("output_config") or {}).get("format")
        if fmt is not None:
            # Structured outputs: the answer is a JSON instance of the schema, as text.
            if fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
                raise ValueError("output_config.format: expected {\"type\": \"json_schema\", \"schema\": {...}}")
            prompt.json_mode, prompt.json_schema = True, fmt["schema"]
        prompt.max_tokens = data.get("max_tokens")
        if prompt.max_tokens == 0:
            # Zero only warms the prompt cache: nothing is generated, not even a tool call.
            prompt.tool_choice_none = True
        prompt.stop = list(data.get("stop_sequences") or [])
        prompt.all_text = "\n".join(texts)
        return prompt

    def _turn(self, message: Any, position: int, count: int, pending: list[str], prompt: Prompt,
              texts: list[str]) -> tuple[list[str], list[str] | None]:
        """Check one turn and note its text; return the tool_use ids it makes and, for a user turn, the tool
        results it gives."""
        where = f"messages.{position}"
        role = message.get("role")
        if role not in ("user", "assistant", "system"):
            # "tool" and "developer" are the OpenAI roles adapters forget to translate.
            raise ValueError(f"messages: Unexpected role {orjson.dumps(role).decode()}. Allowed roles are \"user\", "
                             "\"assistant\" and \"system\".")
        final = position == count - 1
        blocks = _blocks(message.get("content"), where, may_be_empty=final and role == "assistant")
        calls: list[str] = []
        results: list[str] = []
        own: list[str] = []
        for i, block in enumerate(blocks):
            kind, at = block["type"], f"{where}.content.{i}"
            if kind == "text":
                own.append(block["text"])
            elif role == "system":
                raise ValueError(f"{at}: Input tag {kind!r} found using 'type' is not allowed in system messages")
            elif kind == "image":
                _image(block, at)
                prompt.images += 1
            elif kind == "tool_use" and role == "assistant":
                if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
                    raise ValueError(f"{at}.tool_use: id and name are required")
                if not isinstance(block.get("input"), dict):
                    raise ValueError(f"{at}.tool_use.input: Input should be a valid dictionary")
                calls.append(block["id"])
                texts.append(block["name"] + orjson.dumps(block["input"]).decode())
            elif kind == "tool_result" and role == "user":
                tool_use_id = block.get("tool_use_id")
                if tool_use_id not in pending:
                    raise ValueError(
                        f"{at}: unexpected `tool_use_id` found in `tool_result` blocks: {tool_use_id}. Each "
                        "`tool_result` block must have a corresponding `tool_use` block in the previous message."
                    )
                results.append(self._result_text(block.get("content"), at, prompt))
            elif kind not in _IGNORED_BLOCKS:
                raise ValueError(f"{at}: Input tag {kind!r} found using 'type' is not allowed in {role} messages")
        answered = {b.get("tool_use_id") for b in blocks if b["type"] == "tool_result"}
        missing = [tool_use_id for tool_use_id in pending if tool_use_id not in answered]
        if missing:
            raise ValueError(
                f"{where}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` block in the "
                "next message."
            )
        if final and role == "assistant" and own and own[-1] != own[-1].rstrip():
            raise ValueError("messages: final assistant content cannot end with trailing whitespace")
        texts.extend(results)
        texts.extend(own)
        if role == "user":
            prompt.last_user_text = "".join(own)
            return calls, results
        return calls, None

    @staticmethod
    def _result_text(content: Any, where: str, prompt: Prompt) -> str:
        if content is None or isinstance(content, str):
            return content or ""
        texts = []
        for block in _blocks(content, where, may_be_empty=True):
            if block["type"] == "text":
                texts.append(block["text"])
            elif block["type"] == "image":
                _image(block, where)
                prompt.images += 1
        return "".join(texts)

    @staticmethod
    def _tools(tools: Any, prompt: Prompt, texts: list[str]) -> None:
        names: set[str] = set()
        for i, tool in enumerate(tools or []):
            kind = tool.get("type") or "custom"
            if kind != "custom" and not _VERSIONED_TOOL.fullmatch(kind):
                # Typically an OpenAI-shaped tool ({"type": "function", "function": {...}}) passed through.
                raise ValueError(f"tools.{i}: Input tag {kind!r} found using 'type' does not match any of the "
                                 "expected tags: 'custom', or an Anthropic-defined tool version")
            name = tool.get("name")
            if not isinstance(name, str) or not _TOOL_NAME.fullmatch(name):
                raise ValueError(f"tools.{i}.{kind}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
            if name in names:
                raise ValueError("tools: Tool names must be unique.")
            names.add(name)
            if kind != "custom":
                texts.append(name)  # built in or served upstream: nothing for the simulated model to call
                continue
            schema = tool.get("input_schema")
            if schema is None:
                raise ValueError(f"tools.{i}.custom.input_schema: Field required")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                raise ValueError(f"tools.{i}.custom.input_schema.type: Input should be 'object'")
            for field in tool:
                if field not in _TOOL_FIELDS:
                    raise ValueError(f"tools.{i}.custom.{field}: Extra inputs are not permitted")
            prompt.tools.append((name, schema))
            texts.append(name + (tool.get("description") or "") + orjson.dumps(schema).decode())

    @staticmethod
    def _tool_choice(choice: Any, prompt: Prompt) -> None:
        if choice is None:
            return
        kind = choice.get("type")
        if kind not in ("auto", "any", "tool", "none"):
            raise ValueError(f"tool_choice: Input tag {kind!r} found using 'type' does not match any of the expected "
                             "tags: 'auto', 'any', 'tool', 'none'")
        if kind == "tool":
            if choice.get("name") not in [name for name, _ in prompt.tools]:
                raise ValueError(f"tool_choice: Tool {choice.get('name')!r} not found in the provided tools")
            prompt.forced_tool = choice["name"]
        prompt.tool_choice_none = kind == "none"

    # -- reply → wire ---------------------------------------------------------------------------------------

    @staticmethod
    def _stop(result: Reply, prompt: Prompt) -> tuple[str, str | None]:
        reason = _STOP_REASONS.get(result.finish, result.finish)
        if result.finish == "stop" and prompt.stop and not result.tool_calls:
            # ``reply`` cut the text at a stop sequence if the uncut, untruncated answer continues with it.
            full = reply(dataclasses.replace(prompt, stop=[], max_tokens=None)).text
            for stop in prompt.stop:
                if full.startswith(result.text + stop):
                    return "stop_sequence", stop
        return reason, None

    @staticmethod
    def _tool_id(call: SimToolCall) -> str:
        return "toolu_sim" + call.id.removeprefix("call_")

    @staticmethod
    def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
        return {"input_tokens": input_tokens, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                "output_tokens": output_tokens, "service_tier": "standard"}

    @staticmethod
    def _message(model: str, ident: int, content: list[dict[str, Any]], usage: dict[str, Any],
                 stop: tuple[str | None, str | None]) -> dict[str, Any]:
        message = {"id": f"msg_sim{ident:08d}", "type": "message", "role": "assistant", "model": model,
                   "content": content, "stop_reason": stop[0], "stop_sequence": stop[1], "usage": usage}
        if stop[0] == "refusal":
            message["stop_details"] = {"type": "refusal", "category": None, "explanation": None}
        return message

    def render(self, result: Reply, prompt: Prompt, model: str, ident: int) -> dict[str, Any]:
        content: list[dict[str, Any]] = [{"type": "text", "text": result.text}] if result.text else []
        content.extend({"type": "tool_use", "id": self._tool_id(c), "name": c.name,
                        "input": orjson.loads(c.arguments)} for c in result.tool_calls)
        usage = self._usage(result.input_tokens, result.output_tokens)
        return self._message(model, ident, content, usage, self._stop(result, prompt))

    def render_stream(self, result: Reply, prompt: Prompt, model: str, ident: int) -> list[bytes]:
        start = self._message(model, ident, [], self._usage(result.input_tokens, 1), (None, None))
        frames = [sse({"type": "message_start", "message": start}, "message_start"), sse({"type": "ping"}, "ping")]
        index = 0

        def block(content_block: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
            frames.append(sse({"type": "content_block_start", "index": index, "content_block": content_block},
                              "content_block_start"))
            frames.extend(sse({"type": "content_block_delta", "index": index, "delta": d}, "content_block_delta")
                          for d in deltas)
            frames.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))

        if result.text:
            block({"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in split_text(result.text)])
            index += 1
        for call in result.tool_calls:
            # Upstream streams tool input as JSON fragments that only parse once joined.
            third = max(1, len(call.arguments) // 3)
            pieces = [call.arguments[:third], call.arguments[third : 2 * third], call.arguments[2 * third :]]
            block({"type": "tool_use", "id": self._tool_id(call), "name": call.name, "input": {}},
                  [{"type": "input_json_delta", "partial_json": p} for p in pieces if p])
            index += 1
        reason, sequence = self._stop(result, prompt)
        delta: dict[str, Any] = {"stop_reason": reason, "stop_sequence": sequence}
        if reason == "refusal":
            delta["stop_details"] = {"type": "refusal", "category": None, "explanation": None}
        frames.append(sse({"type": "message_delta", "delta": delta, "usage": {"output_tokens": result.output_tokens}},
                          "message_delta"))
        frames.append(sse({"type": "message_stop"}, "message_stop"))
        return frames

    def error(self, kind: ErrorKind, status: int, message: str) -> tuple[int, dict[str, Any]]:
        # Anthropic signals overload with its own 529, not 503.
        code = 529 if kind == "overloaded" else status
        body = {"type": "error", "error": {"type": _ERROR_TYPES[kind], "message": message},
                "request_id": f"req_sim{next(_request_ids):08d}"}
        return code, body

    def error_response(
        self, kind: ErrorKind, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        code, body = self.error(kind, status, message)
        # The SDK reads the request id off this header (``exc.request_id``).
        headers = {**(headers or {}), "request-id": body["request_id"]}
        return web.Response(body=orjson.dumps(body), status=code, content_type="application/json", headers=headers)

    def context_message(self, prompt: Prompt, window: int) -> str:
        return f"prompt is too long: {estimate_tokens(prompt.all_text)} tokens > {window} maximum"

    def content_filtered(self, prompt: Prompt, model: str, ident: int, stream: bool) -> web.StreamResponse:
        # Claude's classifiers end the turn with stop_reason "refusal", in a 200.
        result = Reply("", [], "refusal", estimate_tokens(prompt.all_text) + 85 * prompt.images, 1)
        if stream:
            return web.Response(body=b"".join(self.render_stream(result, prompt, model, ident)),
                                content_type="text/event-stream")
        return web.json_response(self.render(result, prompt, model, ident))
