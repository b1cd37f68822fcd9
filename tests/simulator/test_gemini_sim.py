"""Simulator fidelity: the official ``google-genai`` SDK (sync and async clients) talks to the simulated Gemini API
exactly as it would to the real one, errors included. The SDK validates every response into pydantic models that
forbid unknown fields, so a wrong field name or shape fails here."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import aiohttp
import orjson
import pydantic
import pytest
from google import genai
from google.genai import errors, types

from switchyard.simulator import Simulator
from switchyard.simulator.reply import estimate_tokens

T = TypeVar("T")

KEY = "gem-test-key"
MODEL = "gemini-2.0-flash"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk")
WEATHER = types.Tool(function_declarations=[types.FunctionDeclaration(
    name="get_weather",
    description="Weather for a city",
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={"city": types.Schema(type=types.Type.STRING), "days": types.Schema(type=types.Type.INTEGER)},
        required=["city", "days"],
    ),
)])
TIME = types.Tool(function_declarations=[types.FunctionDeclaration(
    name="get_time",
    parameters=types.Schema(type=types.Type.OBJECT, properties={"zone": types.Schema(type=types.Type.STRING)}),
)])


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection attempt (the SDK's included) to anywhere but this machine."""
    connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1"):
            # An OSError, so the client closes its socket and fails the call as a connection error.
            raise ConnectionRefusedError(f"tests stay on loopback; refused a connection to {host!r}")
        connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def make_client(sim: Simulator, api_key: str = KEY, session: aiohttp.ClientSession | None = None) -> genai.Client:
    # One attempt: the SDK's own retries would hide the simulator's errors and slow the suite down.
    options = types.HttpOptions(
        base_url=sim.base_url, timeout=10_000, retry_options=types.HttpRetryOptions(attempts=1), aiohttp_client=session
    )
    return genai.Client(api_key=api_key, http_options=options)


@pytest.fixture
async def aio(sim: Simulator) -> AsyncIterator[genai.client.AsyncClient]:
    # The async client is given our own aiohttp session: the one it would make subclasses ClientSession, which
    # aiohttp deprecates with a warning (an error in this suite).
    async with aiohttp.ClientSession() as session:
        client = make_client(sim, session=session)
        try:
            async with client.aio as aio:
                yield aio
        finally:
            client.close()


async def in_thread(sim: Simulator, call: Callable[[genai.Client], T], api_key: str = KEY) -> T:
    """Run a sync-client call off the event loop that serves the simulator."""

    def run() -> T:
        with make_client(sim, api_key) as client:
            return call(client)

    return await asyncio.to_thread(run)


def config(**fields: Any) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(**fields)


# -- answers ------------------------------------------------------------------------------------------------


async def test_sync_generate_with_system_instruction(sim: Simulator) -> None:
    response = await in_thread(sim, lambda c: c.models.generate_content(
        model=MODEL, contents="Hi there", config=config(system_instruction="Be brief.")
    ))
    assert response.text == f"{MODEL} says: Hi there"
    [candidate] = response.candidates or []
    assert candidate.finish_reason == types.FinishReason.STOP
    assert candidate.index == 0
    assert candidate.content is not None
    assert candidate.content.role == "model"
    usage = response.usage_metadata
    assert usage is not None
    assert usage.prompt_token_count == estimate_tokens("Hi there\nBe brief.")
    assert usage.candidates_token_count == estimate_tokens(response.text)
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count
    assert response.model_version == MODEL
    assert response.response_id is not None
    assert response.response_id.startswith("sim-")
    assert sim.requests == {f"gemini:{MODEL}": 1}


async def test_async_generate_multi_turn(aio: genai.client.AsyncClient) -> None:
    contents = [
        types.Content(role="user", parts=[types.Part(text="first question")]),
        types.Content(role="model", parts=[types.Part(text="first answer")]),
        types.Content(role="user", parts=[types.Part(text="second question")]),
    ]
    response = await aio.models.generate_content(model=MODEL, contents=contents)
    assert response.text == f"{MODEL} says: second question"


async def test_sync_stream(sim: Simulator) -> None:
    question = "tell me a story about a cat and a dog"
    chunks = await in_thread(sim, lambda c: list(c.models.generate_content_stream(model=MODEL, contents=question)))
    assert len(chunks) > 2
    assert "".join(c.text or "" for c in chunks) == f"{MODEL} says: {question}"
    finishes = [c.candidates[0].finish_reason for c in chunks if c.candidates]
    assert finishes == [None] * (len(chunks) - 1) + [types.FinishReason.STOP]
    usage = chunks[-1].usage_metadata
    assert usage is not None
    assert usage.candidates_token_count == estimate_tokens(f"{MODEL} says: {question}")
    assert all(c.response_id == chunks[0].response_id for c in chunks)


async def test_async_stream(aio: genai.client.AsyncClient) -> None:
    stream = await aio.models.generate_content_stream(model=MODEL, contents="one two three four five six seven")
    texts = [chunk.text async for chunk in stream]
    assert len(texts) > 1
    assert "".join(t or "" for t in texts) == f"{MODEL} says: one two three four five six seven"


async def test_function_call(aio: genai.client.AsyncClient) -> None:
    response = await aio.models.generate_content(
        model=MODEL, contents="Weather in Oslo?", config=config(tools=[WEATHER, TIME])
    )
    [call] = response.function_calls or []
    assert (call.name, call.args) == ("get_weather", {"city": "sample city", "days": 42})
    assert response.candidates is not None
    assert response.candidates[0].finish_reason == types.FinishReason.STOP


async def test_tool_config_forces_a_function_or_none(aio: genai.client.AsyncClient) -> None:
    any_time = types.FunctionCallingConfig(
        mode=types.FunctionCallingConfigMode.ANY, allowed_function_names=["get_time"]
    )
    forced = config(tools=[WEATHER, TIME], tool_config=types.ToolConfig(function_calling_config=any_time))
    response = await aio.models.generate_content(model=MODEL, contents="What time is it?", config=forced)
    assert [(c.name, c.args) for c in response.function_calls or []] == [("get_time", {"zone": "sample zone"})]
    none = config(tools=[WEATHER], tool_config=types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(mode=types.FunctionCallingConfigMode.NONE)
    ))
    response = await aio.models.generate_content(model=MODEL, contents="hello", config=none)
    assert response.text == f"{MODEL} says: hello"


async def test_function_response_round_trip(aio: genai.client.AsyncClient) -> None:
    question = types.Content(role="user", parts=[types.Part(text="Weather in Oslo?")])
    first = await aio.models.generate_content(model=MODEL, contents=[question], config=config(tools=[WEATHER]))
    assert first.candidates is not None
    assert first.candidates[0].content is not None
    [call] = first.function_calls or []
    answer = types.Part.from_function_response(name=call.name or "", response={"result": "sunny, 21 C"})
    history = [question, first.candidates[0].content, types.Content(role="user", parts=[answer])]
    second = await aio.models.generate_content(model=MODEL, contents=history, config=config(tools=[WEATHER]))
    assert second.text == "The tool returned: sunny, 21 C"


class Person(pydantic.BaseModel):
    name: str
    age: int
    tags: list[str]


async def test_json_response_schema_parses(aio: genai.client.AsyncClient) -> None:
    response = await aio.models.generate_content(
        model=MODEL, contents="a person", config=config(response_mime_type="application/json", response_schema=Person)
    )
    assert response.parsed == Person(name="sample name", age=42, tags=["sample tags"])


async def test_json_response_json_schema(aio: genai.client.AsyncClient) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "additionalProperties": False}
    response = await aio.models.generate_content(
        model=MODEL, contents="ok?",
        config=config(response_mime_type="application/json", response_json_schema=schema),
    )
    assert orjson.loads(response.text or "") == {"ok": True}


async def test_candidate_count_and_max_tokens(aio: genai.client.AsyncClient) -> None:
    response = await aio.models.generate_content(model=MODEL, contents="hi", config=config(candidate_count=2))
    assert [c.index for c in response.candidates or []] == [0, 1]
    response = await aio.models.generate_content(
        model=MODEL, contents="a long question that will not fit", config=config(max_output_tokens=2)
    )
    assert response.candidates is not None
    assert response.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS


async def test_inline_image_and_count_tokens(aio: genai.client.AsyncClient) -> None:
    contents = [types.Part.from_bytes(data=PNG, mime_type="image/png"), "what is this?"]
    response = await aio.models.generate_content(model=MODEL, contents=contents)
    assert response.text == f"{MODEL} says: what is this? I see 1 image(s)."
    counted = await aio.models.count_tokens(model=MODEL, contents=contents)
    assert response.usage_metadata is not None
    assert counted.total_tokens == response.usage_metadata.prompt_token_count == estimate_tokens("what is this?") + 85


async def test_blocked_prompt(sim: Simulator, aio: genai.client.AsyncClient) -> None:
    sim.set_faults("gemini", {"content_filter_rate": 1.0})
    response = await aio.models.generate_content(model=MODEL, contents="something bad")
    assert response.candidates is None
    assert response.prompt_feedback is not None
    assert response.prompt_feedback.block_reason == types.BlockedReason.SAFETY
    chunks = [c async for c in await aio.models.generate_content_stream(model=MODEL, contents="something bad")]
    assert [c.prompt_feedback.block_reason for c in chunks if c.prompt_feedback] == [types.BlockedReason.SAFETY]


# -- errors -------------------------------------------------------------------------------------------------


async def test_invalid_key(sim: Simulator) -> None:
    with pytest.raises(errors.ClientError) as caught:
        await in_thread(sim, lambda c: c.models.generate_content(model=MODEL, contents="hi"), api_key="invalid")
    exc = caught.value
    assert (exc.code, exc.status) == (400, "INVALID_ARGUMENT")
    assert exc.message == "API key not valid. Please pass a valid API key."
    assert exc.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"


async def test_rate_limit_has_retry_info(sim: Simulator, aio: genai.client.AsyncClient) -> None:
    sim.set_faults("gemini", {"rate_limit_rate": 1.0, "retry_after_s": 7})
    with pytest.raises(errors.ClientError) as caught:
        await aio.models.generate_content(model=MODEL, contents="hi")
    exc = caught.value
    assert (exc.code, exc.status) == (429, "RESOURCE_EXHAUSTED")
    retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}
    assert exc.details["error"]["details"] == [retry_info]
    assert exc.response is not None
    assert "retry-after" not in exc.response.headers


@pytest.mark.parametrize(
    ("faults", "code", "status", "message"),
    [
        ({"overloaded_rate": 1.0}, 503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
        ({"error_rate": 1.0}, 500, "INTERNAL", "simulated upstream error (500)"),
        ({"error_rate": 1.0, "error_status": 503}, 503, "UNAVAILABLE", "simulated upstream error (503)"),
    ],
    ids=["overloaded", "internal", "unavailable"],
)
async def test_server_errors(
    sim: Simulator, aio: genai.client.AsyncClient, faults: dict[str, Any], code: int, status: str, message: str
) -> None:
    sim.set_faults("gemini", faults)
    with pytest.raises(errors.ServerError) as caught:
        await aio.models.generate_content(model=MODEL, contents="hi")
    assert (caught.value.code, caught.value.status, caught.value.message) == (code, status, message)


async def test_context_length(sim: Simulator, aio: genai.client.AsyncClient) -> None:
    sim.set_faults("gemini", {"context_window": 3})
    with pytest.raises(errors.ClientError) as caught:
        await aio.models.generate_content(model=MODEL, contents="a prompt well over three tokens long")
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    tokens = estimate_tokens("a prompt well over three tokens long")
    assert caught.value.message == f"The input token count ({tokens}) exceeds the maximum number of tokens allowed (3)."


# -- the wire, below the SDK --------------------------------------------------------------------------------


@pytest.fixture
async def http(sim: Simulator) -> AsyncIterator[Callable[..., Any]]:
    async with aiohttp.ClientSession() as session:

        async def post(path: str, body: Any, *, header_key: str | None = KEY, **params: str) -> tuple[int, str, bytes]:
            headers = {"x-goog-api-key": header_key} if header_key else {}
            async with session.post(f"{sim.base_url}{path}", json=body, headers=headers, params=params) as resp:
                return resp.status, resp.headers.get("content-type", ""), await resp.read()

        yield post


HELLO = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
GENERATE = f"/v1beta/models/{MODEL}:generateContent"


async def test_stream_without_alt_sse_is_a_json_array(http: Callable[..., Any]) -> None:
    status, content_type, body = await http(f"/v1beta/models/{MODEL}:streamGenerateContent", HELLO)
    assert (status, content_type.split(";")[0]) == (200, "application/json")
    chunks = orjson.loads(body)
    assert isinstance(chunks, list)
    assert len(chunks) >= 1
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert "".join(p["text"] for c in chunks for p in c["candidates"][0]["content"]["parts"]) == f"{MODEL} says: hello"


async def test_key_in_query_and_v1_path(http: Callable[..., Any]) -> None:
    status, _, body = await http(f"/v1/models/{MODEL}:generateContent", HELLO, header_key=None, key=KEY)
    assert status == 200
    assert orjson.loads(body)["candidates"][0]["content"]["parts"] == [{"text": f"{MODEL} says: hello"}]


async def test_missing_key_is_permission_denied(http: Callable[..., Any]) -> None:
    status, _, body = await http(GENERATE, HELLO, header_key=None)
    assert status == 403
    error = orjson.loads(body)["error"]
    assert (error["code"], error["status"]) == (403, "PERMISSION_DENIED")
    assert error["message"].startswith("Method doesn't allow unregistered callers")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**HELLO, "stream": True}, 'Unknown name "stream": Cannot find field.'),
        ({**HELLO, "generationConfig": {"responseFormat": {}}},
         'Unknown name "responseFormat" at \'generation_config\''),
        ({"contents": []}, "contents is not specified"),
        ({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "Please use a valid role: user, model."),
        ({"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "%%"}}]}]},
         "Base64 decoding failed"),
        ({**HELLO, "tools": [{"functionDeclarations": [{"name": "f", "parameters": {
            "type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}}]}]},
         'Unknown name "additionalProperties" at \'tools[0].function_declarations[0].parameters\''),
        ({**HELLO, "generationConfig": {"responseMimeType": "application/json", "responseSchema": {
            "type": ["string", "null"]}}}, "Proto field is not repeating"),
        ({"contents": [
            {"role": "user", "parts": [{"text": "q"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}},
                                        {"functionCall": {"name": "f", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"result": "1"}}}]},
        ]}, "number of function response parts is equal to the number of function call parts"),
    ],
    ids=["unknown-field", "unknown-generation-field", "no-contents", "bad-role", "bad-base64", "schema-key",
         "type-list", "response-count"],
)
async def test_invalid_requests_are_rejected_like_the_real_api(
    http: Callable[..., Any], body: dict[str, Any], message: str
) -> None:
    status, _, raw = await http(GENERATE, body)
    error = orjson.loads(raw)["error"]
    assert (status, error["code"], error["status"]) == (400, 400, "INVALID_ARGUMENT")
    assert message in error["message"]


async def test_field_names_may_be_snake_case_as_in_proto_json(http: Callable[..., Any]) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "a question that is too long"}]}],
            "generation_config": {"max_output_tokens": 1}}
    status, _, raw = await http(GENERATE, body)
    assert status == 200
    assert orjson.loads(raw)["candidates"][0]["finishReason"] == "MAX_TOKENS"


async def test_unknown_method_is_not_found(http: Callable[..., Any]) -> None:
    status, _, body = await http(f"/v1beta/models/{MODEL}:embedEverything", HELLO)
    assert (status, orjson.loads(body)["error"]["status"]) == (404, "NOT_FOUND")
