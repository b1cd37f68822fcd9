"""Simulated Anthropic Messages API, as the official ``anthropic`` SDK calls it (``base_url`` is the host).

Serves ``POST /v1/messages`` (JSON, or SSE with ``"stream": true``) and ``POST /v1/messages/count_tokens``. The key
comes in ``x-api-key`` (or ``Authorization: Bearer``); ``anthropic-version`` is required, as upstream.

Requests are checked where adapters tend to go wrong: ``max_tokens`` is required, unknown top-level fields are
rejected ("Extra inputs are not permitted"), roles are only ``user``/``assistant``, text blocks must not be empty,
and every ``tool_use`` must be answered by a ``tool_result`` in the very next user turn (and every result must
answer a call of the turn before).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Final

import orjson
from aiohttp import web

from .base import ErrorKind, ProviderSim, sse
from .reply import Prompt, Reply, SimToolCall, estimate_tokens, reply, split_text

__all__ = ["AnthropicSim"]

_FIELDS: Final = frozenset({
    "model", "messages", "system", "max_tokens", "metadata", "stop_sequences", "stream", "temperature", "top_k",
    "top_p", "tools", "tool_choice", "thinking", "service_tier", "container", "mcp_servers", "context_management",
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
_IGNORED_BLOCKS: Final = frozenset({"thinking", "redacted_thinking", "document", "search_result"})


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if not content:
            raise ValueError(f"{where}: text content blocks must be non-empty")
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise ValueError(f"{where}.content: Input should be a valid list")
    for i, block in enumerate(content):
        if not isinstance(block, dict) or "type" not in block:
            raise ValueError(f"{where}.content.{i}: Input should be a valid content block")
    return content


def _image(block: dict[str, Any], where: str) -> None:
    source = block.get("source") or {}
    kind = source.get("type")
    if kind == "base64":
        if not source.get("media_type") or not source.get("data"):
            raise ValueError(f"{where}.source: base64 images need media_type and data")
    elif kind == "url":
        if not source.get("url"):
            raise ValueError(f"{where}.source.url: Field required")
    else:
        raise ValueError(f"{where}.source.type: Input should be 'base64' or 'url'")


class AnthropicSim(ProviderSim):
    name: ClassVar[str] = "anthropic"

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/messages", self.messages), web.post("/v1/messages/count_tokens", self.count_tokens)]

    def api_key(self, request: web.Request) -> str | None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return request.headers.get("x-api-key")

    async def _body(self, request: web.Request, *, counting: bool = False) -> dict[str, Any] | web.Response:
        if not request.headers.get("anthropic-version"):
            return self.error_response("invalid_request", 400, "anthropic-version: header is required")
        try:
            data = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return self.error_response("invalid_request", 400, "request body is not valid JSON")
        if not isinstance(data, dict):
            return self.error_response("invalid_request", 400, "request body must be a JSON object")
        if not isinstance(data.get("model"), str) or not data["model"]:
            return self.error_response("invalid_request", 400, "model: Field required")
        if not counting:
            max_tokens = data.get("max_tokens")
            if max_tokens is None:
                return self.error_response("invalid_request", 400, "max_tokens: Field required")
            if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
                return self.error_response("invalid_request", 400, "max_tokens: Input should be a positive integer")
        for name in data:
            if name not in _FIELDS:
                return self.error_response("invalid_request", 400, f"{name}: Extra inputs are not permitted")
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
        if not self.api_key(request):
            return self.error_response("auth", 401, "x-api-key header is required")
        try:
            prompt = self.parse(data, data["model"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return self.error_response("invalid_request", 400, str(exc))
        return web.json_response({"input_tokens": reply(prompt).input_tokens})

    # -- wire → prompt --------------------------------------------------------------------------------------

    def parse(self, data: Any, model: str) -> Prompt:
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages: at least one message is required")
        prompt = Prompt(model=model)
        texts: list[str] = []
        system = data.get("system")
        if isinstance(system, str):
            texts.append(system)
        elif system is not None:
            texts.extend(b["text"] for b in _blocks(system, "system") if b["type"] == "text")
        pending: set[str] = set()  # tool_use ids the next user turn must answer
        for position, message in enumerate(messages):
            where = f"messages.{position}"
            role = message.get("role")
            if role not in {"user", "assistant"}:
                raise ValueError(f"{where}.role: Unexpected role {role!r}")
            blocks = _blocks(message.get("content"), where)
            answered: set[str] = set()
            results: list[str] = []
            turn_texts: list[str] = []
            calls: set[str] = set()
            for i, block in enumerate(blocks):
                kind = block["type"]
                if kind == "text":
                    if not block.get("text"):
                        raise ValueError(f"{where}.content.{i}.text: text content blocks must be non-empty")
                    turn_texts.append(block["text"])
                elif kind == "image":
                    _image(block, f"{where}.content.{i}")
                    prompt.images += 1
                elif kind == "tool_use" and role == "assistant":
                    if not isinstance(block.get("input"), dict):
                        raise ValueError(f"{where}.content.{i}.tool_use.input: Input should be a valid dictionary")
                    calls.add(block["id"])
                    texts.append(block["name"] + str(block["input"]))
                elif kind == "tool_result" and role == "user":
                    tool_use_id = block.get("tool_use_id")
                    if tool_use_id not in pending:
                        raise ValueError(
                            f"{where}.content.{i}: unexpected `tool_use_id` found in `tool_result` blocks: "
                            f"{tool_use_id}. Each `tool_result` block must have a corresponding `tool_use` block "
                            "in the previous message."
                        )
                    answered.add(tool_use_id)
                    results.append(self._result_text(block.get("content"), f"{where}.content.{i}", prompt))
                elif kind not in _IGNORED_BLOCKS:
                    raise ValueError(f"{where}.content.{i}.type: unexpected block type {kind!r} for role {role}")
            if pending and (role != "user" or answered != pending):
                missing = ", ".join(sorted(pending - answered))
                raise ValueError(
                    f"{where}: `tool_use` ids were found without `tool_result` blocks immediately after: {missing}. "
                    "Each `tool_use` block must have a corresponding `tool_result` block in the next message."
                )
            pending = calls
            texts.extend(results)
            texts.extend(turn_texts)
            if role == "user" and turn_texts:
                prompt.last_user_text = "".join(turn_texts)
            if results and position == len(messages) - 1:
                prompt.last_is_tool_result = True
                prompt.tool_result_text = "\n".join(results)
        for i, tool in enumerate(data.get("tools") or []):
            schema = tool.get("input_schema")
            if "name" not in tool:
                raise ValueError(f"tools.{i}.name: Field required")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                raise ValueError(f"tools.{i}.custom.input_schema.type: Input should be 'object'")
            prompt.tools.append((tool["name"], schema))
            texts.append(tool["name"] + str(schema))
        self._tool_choice(data.get("tool_choice"), prompt)
        prompt.max_tokens = data.get("max_tokens")
        prompt.stop = list(data.get("stop_sequences") or [])
        prompt.all_text = "\n".join(texts)
        return prompt

    @staticmethod
    def _result_text(content: Any, where: str, prompt: Prompt) -> str:
        if content is None or isinstance(content, str):
            return content or ""
        texts = []
        for block in _blocks(content, where):
            if block["type"] == "text":
                texts.append(block["text"])
            elif block["type"] == "image":
                _image(block, where)
                prompt.images += 1
        return "".join(texts)

    @staticmethod
    def _tool_choice(choice: Any, prompt: Prompt) -> None:
        if choice is None:
            return
        kind = choice.get("type")
        if kind not in {"auto", "any", "tool", "none"}:
            raise ValueError("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
        if kind == "tool":
            names = [name for name, _ in prompt.tools]
            if choice.get("name") not in names:
                raise ValueError(f"tool_choice.name: tool {choice.get('name')!r} is not in tools")
            prompt.forced_tool = choice["name"]
        prompt.tool_choice_none = kind == "none"

    # -- reply → wire ---------------------------------------------------------------------------------------

    @staticmethod
    def _stop(result: Reply, prompt: Prompt) -> tuple[str, str | None]:
        reason = _STOP_REASONS.get(result.finish, result.finish)
        if result.finish == "stop" and prompt.stop:
            # ``reply`` cut the text at a stop sequence if the uncut answer continues past it.
            full = reply(dataclasses.replace(prompt, stop=[])).text
            for stop in prompt.stop:
                if stop and full.startswith(result.text + stop):
                    return "stop_sequence", stop
        return reason, None

    @staticmethod
    def _tool_id(call: SimToolCall) -> str:
        return "toolu_" + call.id.removeprefix("call_")

    def _usage(self, input_tokens: int, output_tokens: int) -> dict[str, Any]:
        return {"input_tokens": input_tokens, "output_tokens": output_tokens, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "service_tier": "standard"}

    def _message(self, model: str, ident: int, content: list[dict[str, Any]], usage: dict[str, Any],
                 stop: tuple[str | None, str | None]) -> dict[str, Any]:
        return {"id": f"msg_sim{ident:08d}", "type": "message", "role": "assistant", "model": model,
                "content": content, "stop_reason": stop[0], "stop_sequence": stop[1], "usage": usage}

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
            third = max(1, len(call.arguments) // 3)
            pieces = [call.arguments[:third], call.arguments[third : 2 * third], call.arguments[2 * third :]]
            block({"type": "tool_use", "id": self._tool_id(call), "name": call.name, "input": {}},
                  [{"type": "input_json_delta", "partial_json": p} for p in pieces if p])
            index += 1
        reason, sequence = self._stop(result, prompt)
        frames.append(sse({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": sequence},
                           "usage": {"output_tokens": result.output_tokens}}, "message_delta"))
        frames.append(sse({"type": "message_stop"}, "message_stop"))
        return frames

    def error(self, kind: ErrorKind, status: int, message: str) -> tuple[int, dict[str, Any]]:
        # Anthropic signals overload with its own 529, not 503.
        return (529 if kind == "overloaded" else status), {
            "type": "error", "error": {"type": _ERROR_TYPES[kind], "message": message},
            "request_id": "req_sim",
        }

    def context_message(self, prompt: Prompt, window: int) -> str:
        return f"prompt is too long: {estimate_tokens(prompt.all_text)} tokens > {window} maximum"

    def content_filtered(self, prompt: Prompt, model: str, ident: int, stream: bool) -> web.StreamResponse:
        # Claude's classifiers end the turn with stop_reason "refusal", in a 200.
        result = Reply("", [], "refusal", estimate_tokens(prompt.all_text), 0)
        if stream:
            return web.Response(body=b"".join(self.render_stream(result, prompt, model, ident)),
                                content_type="text/event-stream")
        return web.json_response(self.render(result, prompt, model, ident))
