"""Simulated OpenAI Chat Completions and Embeddings, as served by OpenAI and OpenAI-compatible vendors (``/v1``),
Azure OpenAI (``/openai/deployments/{deployment}/...?api-version=``) and Azure AI model inference (``/models``)."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import orjson
from aiohttp import web

from .base import ErrorKind, ProviderSim, sse
from .embeddings import parse_openai_embeddings, render_openai_embeddings
from .reply import Prompt, Reply, split_text

__all__ = ["AzureOpenAISim", "OpenAISim"]

_ERRORS: dict[str, tuple[str, str | None]] = {
    "invalid_request": ("invalid_request_error", None),
    "auth": ("invalid_request_error", "invalid_api_key"),
    "not_found": ("invalid_request_error", "model_not_found"),
    "context_length": ("invalid_request_error", "context_length_exceeded"),
    "rate_limit": ("requests", "rate_limit_exceeded"),
    "overloaded": ("server_error", None),
    "server": ("server_error", None),
    "unavailable": ("server_error", None),
}


def _text_of(content: Any) -> tuple[str, int]:
    """(text, image count) of a message's content: a string or a list of parts."""
    if content is None:
        return "", 0
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        raise ValueError("message content must be a string or a list of parts")
    texts, images = [], 0
    for part in content:
        kind = part.get("type")
        if kind == "text":
            texts.append(part["text"])
        elif kind == "image_url":
            if not part["image_url"]["url"]:
                raise ValueError("image_url.url is empty")
            images += 1
        else:
            raise ValueError(f"unknown content part type {kind!r}")
    return "".join(texts), images


class OpenAISim(ProviderSim):
    name: ClassVar[str] = "openai"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/chat/completions", self.chat),
            web.post("/models/chat/completions", self.chat),
            web.post("/v1/embeddings", self.embeddings),
            web.post("/models/embeddings", self.embeddings),
            web.get("/v1/models", self.list_models),
        ]

    def api_key(self, request: web.Request) -> str | None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return request.headers.get("api-key")

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if isinstance(body, web.StreamResponse):
            return body
        data, model = body
        return await self.handle(request, model, bool(data.get("stream")), data)

    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if isinstance(body, web.StreamResponse):
            return body
        data, model = body
        return await self.handle_embeddings(request, model, data, parse_openai_embeddings, render_openai_embeddings)

    async def _body(self, request: web.Request) -> tuple[dict[str, Any], str] | web.StreamResponse:
        """The JSON body and its ``model``, or OpenAI's 400 for a body without them."""
        try:
            data = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return self.error_response("invalid_request", 400, "request body is not valid JSON")
        model = data.get("model") if isinstance(data, dict) else None
        if not isinstance(model, str) or not model:
            return self.error_response("invalid_request", 400, "you must provide a model parameter")
        return data, model

    async def list_models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [
            {"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "simulator"}
        ]})

    def parse(self, data: Any, model: str) -> Prompt:
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages must be a non-empty array")
        prompt = Prompt(model=model)
        texts: list[str] = []
        for message in messages:
            role = message.get("role")
            if role not in {"system", "developer", "user", "assistant", "tool"}:
                raise ValueError(f"unknown role {role!r}")
            text, images = _text_of(message.get("content"))
            texts.append(text)
            prompt.images += images
            if role == "user":
                prompt.last_user_text = text
            for call in message.get("tool_calls") or []:
                texts.append(call["function"]["name"] + call["function"]["arguments"])
        last = messages[-1]
        prompt.last_is_tool_result = last.get("role") == "tool"
        if last.get("role") == "assistant" and not last.get("tool_calls"):
            prompt.assistant_prefix = _text_of(last.get("content"))[0]
        if prompt.last_is_tool_result:
            prompt.tool_result_text = _text_of(last.get("content"))[0]
        for tool in data.get("tools") or []:
            function = tool["function"]
            parameters = function.get("parameters") or {"type": "object", "properties": {}}
            prompt.tools.append((function["name"], parameters))
            texts.append(function["name"] + str(parameters))
        choice = data.get("tool_choice")
        prompt.tool_choice_none = choice == "none"
        if isinstance(choice, dict):
            prompt.forced_tool = choice["function"]["name"]
        fmt = data.get("response_format") or {}
        prompt.json_mode = fmt.get("type") in {"json_object", "json_schema"}
        if fmt.get("type") == "json_schema":
            prompt.json_schema = fmt["json_schema"].get("schema")
        prompt.max_tokens = data.get("max_completion_tokens") or data.get("max_tokens")
        stop = data.get("stop")
        prompt.stop = [stop] if isinstance(stop, str) else list(stop or [])
        prompt.n = int(data.get("n") or 1)
        prompt.include_usage = bool((data.get("stream_options") or {}).get("include_usage"))
        prompt.all_text = "\n".join(texts)
        return prompt

    def _usage(self, result: Reply, n: int) -> dict[str, Any]:
        return {
            "prompt_tokens": result.input_tokens,
            "completion_tokens": result.output_tokens * n,
            "total_tokens": result.input_tokens + result.output_tokens * n,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }

    def render(self, result: Reply, prompt: Prompt, model: str, ident: int) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": result.text or None, "refusal": None}
        if result.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in result.tool_calls
            ]
        return {
            "id": f"chatcmpl-sim{ident:08d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_simulator",
            "choices": [
                {"index": i, "message": message, "logprobs": None, "finish_reason": result.finish}
                for i in range(prompt.n)
            ],
            "usage": self._usage(result, prompt.n),
        }

    def render_stream(self, result: Reply, prompt: Prompt, model: str, ident: int) -> list[bytes]:
        base = {
            "id": f"chatcmpl-sim{ident:08d}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_simulator",
        }
        if prompt.include_usage:
            base["usage"] = None

        def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            return sse({**base, "choices": [choice]})

        frames = []
        for i in range(prompt.n):
            frames.append(chunk(i, {"role": "assistant", "content": "", "refusal": None}))
            for piece in split_text(result.text):
                frames.append(chunk(i, {"content": piece}))
            for index, call in enumerate(result.tool_calls):
                head = {"index": index, "id": call.id, "type": "function",
                        "function": {"name": call.name, "arguments": ""}}
                frames.append(chunk(i, {"tool_calls": [head]}))
                half = len(call.arguments) // 2
                for fragment in (call.arguments[:half], call.arguments[half:]):
                    frames.append(chunk(i, {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}))
            frames.append(chunk(i, {}, result.finish))
        if prompt.include_usage:
            frames.append(sse({**base, "choices": [], "usage": self._usage(result, prompt.n)}))
        frames.append(b"data: [DONE]\n\n")
        return frames

    def error(self, kind: ErrorKind, status: int, message: str) -> tuple[int, dict[str, Any]]:
        type_, code = _ERRORS[kind]
        return status, {"error": {"message": message, "type": type_, "param": None, "code": code}}

    def content_filtered(self, prompt: Prompt, model: str, ident: int, stream: bool) -> web.StreamResponse:
        # OpenAI itself answers 200 and says so in finish_reason.
        result = Reply("", [], "content_filter", 0, 0)
        if stream:
            frames = self.render_stream(result, prompt, model, ident)
            return web.Response(body=b"".join(frames), content_type="text/event-stream")
        return web.json_response(self.render(result, prompt, model, ident))


class AzureOpenAISim(OpenAISim):
    """Azure OpenAI: the deployment is in the path, ``api-version`` is required, the key is ``api-key``,
    and content filtering is a 400 with code ``content_filter``."""

    name: ClassVar[str] = "azure"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/openai/deployments/{deployment}/chat/completions", self.deployment_chat),
            web.post("/openai/deployments/{deployment}/embeddings", self.deployment_embeddings),
        ]

    def api_key(self, request: web.Request) -> str | None:
        return request.headers.get("api-key") or super().api_key(request)

    async def deployment_chat(self, request: web.Request) -> web.StreamResponse:
        data = await self._deployment_body(request)
        if isinstance(data, web.StreamResponse):
            return data
        if not isinstance(data, dict):
            return self.error_response("invalid_request", 400, "request body must be a JSON object")
        return await self.handle(request, request.match_info["deployment"], bool(data.get("stream")), data)

    async def deployment_embeddings(self, request: web.Request) -> web.StreamResponse:
        data = await self._deployment_body(request)
        if isinstance(data, web.StreamResponse):
            return data
        deployment = request.match_info["deployment"]
        return await self.handle_embeddings(
            request, deployment, data, parse_openai_embeddings, render_openai_embeddings
        )

    async def _deployment_body(self, request: web.Request) -> Any:
        """The parsed JSON body, or Azure's 404 without ``api-version`` / a 400 for a body that is not JSON."""
        if not request.query.get("api-version"):
            return self.error_response("invalid_request", 404, "Resource not found: api-version is required")
        try:
            return orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return self.error_response("invalid_request", 400, "request body is not valid JSON")

    def content_filtered(self, prompt: Prompt, model: str, ident: int, stream: bool) -> web.StreamResponse:
        body = {"error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management "
                       "policy.",
            "type": None, "param": "prompt", "code": "content_filter", "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation"},
        }}
        return web.json_response(body, status=400)
