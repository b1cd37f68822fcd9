"""Simulated Gemini Developer API (``generativelanguage.googleapis.com``), as the google-genai SDK calls it.

Serves ``POST /{v1beta,v1,v1alpha}/models/{model}:generateContent``, ``:streamGenerateContent``,
``:countTokens`` and ``:batchEmbedContents``. Streams are SSE with ``?alt=sse`` (what the SDK asks for) and
otherwise one JSON array written element by element, as the REST API does. The key comes in ``x-goog-api-key``
or ``?key=``.

Requests are checked the way the real service checks them where adapters tend to go wrong: unknown body fields
(``Unknown name "...": Cannot find field``), schema keys the OpenAPI-subset ``Schema`` has no field for, roles other
than ``user``/``model``, and a function-response turn that does not answer every call of the turn before it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from contextvars import ContextVar
from typing import Any, ClassVar, Final, Literal

import orjson
from aiohttp import web

from .base import INVALID_KEYS, ErrorKind, ProviderSim, sse
from .embeddings import parse_gemini_batch, render_gemini_batch
from .faults import Decision
from .reply import Prompt, Reply, estimate_tokens, split_text

__all__ = ["GeminiSim"]

RETRY_INFO: Final = "type.googleapis.com/google.rpc.RetryInfo"
ERROR_INFO: Final = "type.googleapis.com/google.rpc.ErrorInfo"

# google.rpc.Code names as Google's HTTP APIs pair them with statuses.
_STATUS_NAMES: Final = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ABORTED",
    429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "NOT_IMPLEMENTED", 503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_FINISH: Final = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP"}
_ACTIONS: Final = frozenset({"generateContent", "streamGenerateContent", "countTokens", "batchEmbedContents"})

_REQUEST_FIELDS: Final = frozenset({
    "model", "contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "safetySettings",
    "cachedContent", "labels", "serviceTier", "store",
})
_GENERATION_FIELDS: Final = frozenset({
    "stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema", "responseModalities",
    "candidateCount", "maxOutputTokens", "temperature", "topP", "topK", "seed", "presencePenalty",
    "frequencyPenalty", "responseLogprobs", "logprobs", "enableEnhancedCivicAnswers", "speechConfig",
    "thinkingConfig", "imageConfig", "mediaResolution",
})
_SCHEMA_FIELDS: Final = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties", "required",
    "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf", "propertyOrdering",
    "default", "items", "minimum", "maximum",
})
"""The fields of the API's ``Schema`` message (an OpenAPI 3.0 subset); ``parameters`` and ``responseSchema`` take
nothing else. ``parametersJsonSchema`` and ``responseJsonSchema`` take plain JSON Schema and are not checked."""
_PART_DATA: Final = ("text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
                     "codeExecutionResult")

# How the stream of the request being served is framed. The ProviderSim hooks see only the prompt, so the route
# handler records it here; each request is served in its own task context, so the value never crosses requests.
_STREAM_FORMAT: ContextVar[Literal["sse", "json"]] = ContextVar("gemini_stream_format", default="sse")


_DATA_FIELDS: Final = frozenset({"args", "response", "responseJsonSchema", "parametersJsonSchema", "default",
                                 "example", "labels", "metadata"})
"""Fields whose value is data (a ``Struct`` or free JSON), whose keys are never field names."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _canonical(value: Any) -> Any:
    """The request with every field name in lowerCamelCase. Proto JSON accepts a field's declared name too
    (``property_ordering``, which the SDK sends, or ``generation_config``), so the simulator must."""
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, sub in value.items():
        name = _camel(key)
        if name in _DATA_FIELDS:
            out[name] = sub
        elif name == "properties" and isinstance(sub, dict):
            out[name] = {prop: _canonical(schema) for prop, schema in sub.items()}
        else:
            out[name] = _canonical(sub)
    return out


def _unknown(name: str, where: str = "") -> ValueError:
    at = f" at '{where}'" if where else ""
    return ValueError(f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.')


def _schema(schema: Any, where: str) -> dict[str, Any]:
    """Check an OpenAPI-subset schema as the API does; return it in JSON Schema spelling for the reply generator
    (the SDK sends ``"type": "STRING"``)."""
    if not isinstance(schema, dict):
        raise ValueError(f"Invalid value at '{where}': expected an object")
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in _SCHEMA_FIELDS:
            raise _unknown(key, where)
        if key == "type":
            if not isinstance(value, str):
                raise ValueError(f"Invalid value at '{where}.type': Proto field is not repeating, cannot start list.")
            out[key] = value.lower()
        elif key == "properties":
            out[key] = {name: _schema(sub, f"{where}.properties[{name}]") for name, sub in value.items()}
        elif key == "items":
            out[key] = _schema(value, f"{where}.items")
        elif key == "anyOf":
            out[key] = [_schema(sub, f"{where}.any_of[{i}]") for i, sub in enumerate(value)]
        else:
            out[key] = value
    return out


def _result_text(response: Any) -> str:
    """What a function returned, as the reply quotes it: the lone result/output/error string, else the JSON."""
    if isinstance(response, dict) and len(response) == 1:
        value = next(iter(response.values()))
        if next(iter(response)) in ("result", "output", "error") and isinstance(value, str):
            return value
    return orjson.dumps(response).decode()


class GeminiSim(ProviderSim):
    """The Gemini Developer API's content generation endpoints, with Google's error bodies."""

    name: ClassVar[str] = "gemini"

    def routes(self) -> list[web.RouteDef]:
        # ``models/{model}:{action}``: aiohttp cannot split a path segment on ':', so one catch-all segment is split
        # on its last ':' by the handler.
        return [web.post(r"/{version:v1beta|v1|v1alpha}/models/{model_action}", self.dispatch)]

    def api_key(self, request: web.Request) -> str | None:
        return request.headers.get("x-goog-api-key") or request.query.get("key")

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        model, sep, action = request.match_info["model_action"].rpartition(":")
        if not sep or not model or action not in _ACTIONS:
            return self._google_error(404, f"Method not found: models/{request.match_info['model_action']}.")
        key = self.api_key(request)
        if not key:
            return self._google_error(403, "Method doesn't allow unregistered callers (callers without established "
                                           "identity). Please use API Key or other form of API consumer identity "
                                           "to call this API.")
        if key in INVALID_KEYS:
            return self.error_response("auth", 400, "")
        try:
            data = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return self.error_response("invalid_request", 400, "Invalid JSON payload received.")
        if not isinstance(data, dict):
            return self.error_response("invalid_request", 400, "Invalid JSON payload received. Expected an object.")
        if action == "countTokens":
            return self._count_tokens(data, model)
        if action == "batchEmbedContents":
            return await self.handle_embeddings(request, model, data, parse_gemini_batch, render_gemini_batch)
        _STREAM_FORMAT.set("sse" if request.query.get("alt") == "sse" else "json")
        return await self.handle(request, model, action == "streamGenerateContent", data)

    def _count_tokens(self, data: dict[str, Any], model: str) -> web.Response:
        try:
            inner = data.get("generateContentRequest") or data.get("generate_content_request")
            prompt = self.parse(inner or data, model)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return self.error_response("invalid_request", 400, str(exc))
        total = estimate_tokens(prompt.all_text) + 85 * prompt.images
        return web.json_response({"totalTokens": total, "promptTokensDetails": self._modalities(prompt)})

    # -- request --------------------------------------------------------------------------------------------------

    def parse(self, data: Any, model: str) -> Prompt:
        data = _canonical(data)
        for name in data:
            if name not in _REQUEST_FIELDS:
                raise _unknown(name)
        contents = data.get("contents")
        if not isinstance(contents, list) or not contents:
            raise ValueError("* GenerateContentRequest.contents: contents is not specified")
        prompt = Prompt(model=model)
        texts: list[str] = []
        calls_before = 0
        for i, content in enumerate(contents):
            role = content.get("role", "user")
            if role not in ("user", "model"):
                raise ValueError("Please use a valid role: user, model.")
            calls, responses, text = self._parse_parts(content.get("parts"), f"contents[{i}]", prompt, texts)
            if responses and responses != calls_before:
                raise ValueError("Please ensure that the number of function response parts is equal to the number "
                                 "of function call parts of the function call turn.")
            if role == "user" and not responses:
                prompt.last_user_text = text
            calls_before = calls
        last = contents[-1]["parts"]
        prompt.last_is_tool_result = any("functionResponse" in part for part in last)
        if prompt.last_is_tool_result:
            prompt.tool_result_text = "\n".join(
                _result_text(part["functionResponse"]["response"]) for part in last if "functionResponse" in part
            )
        system = data.get("systemInstruction")
        if system is not None:
            self._parse_parts(system.get("parts"), "system_instruction", prompt, texts)
        self._parse_tools(data, prompt, texts)
        self._parse_generation(data.get("generationConfig") or {}, prompt)
        prompt.all_text = "\n".join(texts)
        return prompt

    def _parse_parts(self, parts: Any, where: str, prompt: Prompt, texts: list[str]) -> tuple[int, int, str]:
        """Count a content's calls and responses, note its images and text; return (calls, responses, text)."""
        if not isinstance(parts, list) or not parts:
            raise ValueError(f"* GenerateContentRequest.{where}.parts: contents.parts must not be empty.")
        calls = responses = 0
        own: list[str] = []
        for j, part in enumerate(parts):
            if not any(key in part for key in _PART_DATA):
                raise ValueError(f"* GenerateContentRequest.{where}.parts[{j}].data: required oneof field 'data' "
                                 "must have one initialized field")
            if "text" in part:
                own.append(part["text"])
            elif "inlineData" in part:
                blob = part["inlineData"]
                if not blob.get("mimeType"):
                    raise ValueError(f"* GenerateContentRequest.{where}.parts[{j}].inline_data.mime_type: required")
                try:
                    # Proto JSON bytes: standard or URL-safe base64.
                    base64.b64decode(blob["data"].replace("-", "+").replace("_", "/"), validate=True)
                except (binascii.Error, KeyError) as exc:
                    raise ValueError(f"Invalid value at '{where}.parts[{j}].inline_data.data' (TYPE_BYTES), "
                                     "Base64 decoding failed") from exc
                prompt.images += 1
            elif "fileData" in part:
                if not part["fileData"].get("fileUri"):
                    raise ValueError(f"* GenerateContentRequest.{where}.parts[{j}].file_data.file_uri: required")
                prompt.images += 1
            elif "functionCall" in part:
                call = part["functionCall"]
                texts.append(call["name"] + orjson.dumps(call.get("args") or {}).decode())
                calls += 1
            elif "functionResponse" in part:
                response = part["functionResponse"]
                if not response.get("name") or not isinstance(response.get("response"), dict):
                    raise ValueError(f"* GenerateContentRequest.{where}.parts[{j}].function_response: name and "
                                     "response (an object) are required")
                texts.append(response["name"] + _result_text(response["response"]))
                responses += 1
        text = "".join(own)
        texts.append(text)
        return calls, responses, text

    def _parse_tools(self, data: dict[str, Any], prompt: Prompt, texts: list[str]) -> None:
        for i, tool in enumerate(data.get("tools") or []):
            for j, declaration in enumerate(tool.get("functionDeclarations") or []):
                where = f"tools[{i}].function_declarations[{j}]"
                if "parameters" in declaration:
                    parameters = _schema(declaration["parameters"], f"{where}.parameters")
                else:
                    parameters = declaration.get("parametersJsonSchema") or {"type": "object", "properties": {}}
                prompt.tools.append((declaration["name"], parameters))
                texts.append(declaration["name"] + str(parameters))
        config = (data.get("toolConfig") or {}).get("functionCallingConfig") or {}
        mode = config.get("mode", "AUTO")
        if mode not in ("AUTO", "ANY", "NONE", "VALIDATED", "MODE_UNSPECIFIED"):
            raise ValueError(f"Invalid value at 'tool_config.function_calling_config.mode', \"{mode}\"")
        prompt.tool_choice_none = mode == "NONE"
        allowed = config.get("allowedFunctionNames") or []
        if mode == "ANY" and allowed:
            prompt.forced_tool = allowed[0]

    def _parse_generation(self, config: dict[str, Any], prompt: Prompt) -> None:
        for name in config:
            if name not in _GENERATION_FIELDS:
                raise _unknown(name, "generation_config")
        json_mime = config.get("responseMimeType") == "application/json"
        if "responseSchema" in config:
            if not json_mime:
                raise ValueError("responseMimeType must be application/json when responseSchema is set")
            prompt.json_schema = _schema(config["responseSchema"], "generation_config.response_schema")
        elif "responseJsonSchema" in config:
            prompt.json_schema = config["responseJsonSchema"]
        prompt.json_mode = json_mime
        prompt.max_tokens = config.get("maxOutputTokens")
        prompt.stop = list(config.get("stopSequences") or [])
        prompt.n = int(config.get("candidateCount") or 1)
        if not 1 <= prompt.n <= 8:
            raise ValueError("Invalid value at 'generation_config.candidate_count': must be between 1 and 8")

    # -- response -------------------------------------------------------------------------------------------------

    def _modalities(self, prompt: Prompt) -> list[dict[str, Any]]:
        details = [{"modality": "TEXT", "tokenCount": estimate_tokens(prompt.all_text)}]
        if prompt.images:
            details.append({"modality": "IMAGE", "tokenCount": 85 * prompt.images})
        return details

    def _usage(self, result: Reply, prompt: Prompt, *, final: bool = True) -> dict[str, Any]:
        usage: dict[str, Any] = {"promptTokenCount": result.input_tokens}
        output = result.output_tokens * prompt.n
        if final:
            usage["candidatesTokenCount"] = output
        # Mid-stream chunks count the prompt only, as Gemini's do.
        usage["totalTokenCount"] = result.input_tokens + (output if final else 0)
        usage["promptTokensDetails"] = self._modalities(prompt)
        return usage

    def _candidate(self, index: int, parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
        content: dict[str, Any] = {"role": "model"}
        if parts:
            content = {"parts": parts, "role": "model"}
        candidate: dict[str, Any] = {"content": content}
        if finish:
            candidate["finishReason"] = finish
        candidate["index"] = index
        return candidate

    def _calls(self, result: Reply) -> list[dict[str, Any]]:
        # The Gemini API does not send call ids; clients match results to calls by name and position.
        return [{"functionCall": {"name": c.name, "args": orjson.loads(c.arguments)}} for c in result.tool_calls]

    def render(self, result: Reply, prompt: Prompt, model: str, ident: int) -> dict[str, Any]:
        parts = ([{"text": result.text}] if result.text else []) + self._calls(result)
        return {
            "candidates": [self._candidate(i, parts, _FINISH[result.finish]) for i in range(prompt.n)],
            "usageMetadata": self._usage(result, prompt),
            "modelVersion": model,
            "responseId": f"sim-{ident:08d}",
        }

    def render_stream(self, result: Reply, prompt: Prompt, model: str, ident: int) -> list[bytes]:
        tail = {"modelVersion": model, "responseId": f"sim-{ident:08d}"}
        partial = self._usage(result, prompt, final=False)
        pieces = split_text(result.text)
        frames: list[bytes] = []
        for i in range(prompt.n):
            for piece in pieces[:-1]:
                candidate = self._candidate(i, [{"text": piece}])
                frames.append(sse({"candidates": [candidate], "usageMetadata": partial, **tail}))
        # Every chunk is a whole response object; the last carries the finish reasons, whole function calls and the
        # final usage. Nothing marks the end of the stream but the end of the body.
        last = ([{"text": pieces[-1]}] if pieces else []) + self._calls(result)
        finals = [self._candidate(i, last, _FINISH[result.finish]) for i in range(prompt.n)]
        frames.append(sse({"candidates": finals, "usageMetadata": self._usage(result, prompt), **tail}))
        return frames

    async def _stream(self, request: web.Request, frames: list[bytes], decision: Decision) -> web.StreamResponse:
        if _STREAM_FORMAT.get() == "sse":
            return await super()._stream(request, frames, decision)
        response = web.StreamResponse(headers={"content-type": "application/json; charset=UTF-8"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):  # the client left mid-stream, as in the SSE path
            await self._write_frames(request, response, _json_array(frames), decision)
        return response

    def context_message(self, prompt: Prompt, window: int) -> str:
        return (f"The input token count ({estimate_tokens(prompt.all_text)}) exceeds the maximum number of tokens "
                f"allowed ({window}).")

    def content_filtered(self, prompt: Prompt, model: str, ident: int, stream: bool) -> web.StreamResponse:
        # Gemini refuses a prompt with a 200 that has no candidates, only the reason.
        tokens = estimate_tokens(prompt.all_text) + 85 * prompt.images
        body = {
            "promptFeedback": {
                "blockReason": "SAFETY",
                "safetyRatings": [
                    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
                    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
                ],
            },
            "usageMetadata": {"promptTokenCount": tokens, "totalTokenCount": tokens},
            "modelVersion": model,
            "responseId": f"sim-{ident:08d}",
        }
        if not stream:
            return web.Response(body=orjson.dumps(body), content_type="application/json")
        if _STREAM_FORMAT.get() == "sse":
            return web.Response(body=sse(body), content_type="text/event-stream")
        return web.Response(body=b"[" + orjson.dumps(body) + b"]", content_type="application/json")

    # -- errors ---------------------------------------------------------------------------------------------------

    def error(self, kind: ErrorKind, status: int, message: str) -> tuple[int, dict[str, Any]]:
        details: list[dict[str, Any]] = []
        if kind == "auth":
            # Gemini answers a bad key with 400, not 401; the reason code is what says so.
            status, message = 400, "API key not valid. Please pass a valid API key."
            details.append({"@type": ERROR_INFO, "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                            "metadata": {"service": "generativelanguage.googleapis.com"}})
        elif kind == "overloaded":
            status, message = 503, "The model is overloaded. Please try again later."
        elif kind in ("invalid_request", "context_length"):
            status = 400
        elif kind == "not_found":
            status = 404
        elif kind == "rate_limit":
            status = 429
        name = _STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "UNKNOWN")
        error: dict[str, Any] = {"code": status, "message": message, "status": name}
        if details:
            error["details"] = details
        return status, {"error": error}

    def error_response(
        self, kind: ErrorKind, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        code, body = self.error(kind, status, message)
        delay = (headers or {}).get("retry-after")
        if kind == "rate_limit" and delay is not None:
            # Gemini says how long to wait in the body (google.rpc.RetryInfo), never in a Retry-After header.
            body["error"].setdefault("details", []).append({"@type": RETRY_INFO, "retryDelay": f"{delay}s"})
        return web.Response(body=orjson.dumps(body), status=code, content_type="application/json")

    def _google_error(self, status: int, message: str) -> web.Response:
        body = {"error": {"code": status, "message": message, "status": _STATUS_NAMES[status]}}
        return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _json_array(frames: list[bytes]) -> list[bytes]:
    """SSE frames (``data: {...}\\n\\n``) as the pieces of the JSON array the REST API streams without ``alt=sse``."""
    objects = [frame.removeprefix(b"data: ").rstrip(b"\n") for frame in frames]
    return [(b"[" if i == 0 else b",\r\n") + obj for i, obj in enumerate(objects)] + [b"]"]
