"""Simulator fidelity: the official ``openai`` SDK (sync, async and Azure clients) talks to the simulated
OpenAI and Azure OpenAI endpoints exactly as it would to the real ones, errors included."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import aiohttp
import openai
import pydantic
import pytest

from switchyard.simulator import Simulator

T = TypeVar("T")

MODEL = "gpt-4o-mini"
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}
HI: Any = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(api_key="sk-test", base_url=f"{sim.base_url}/v1", max_retries=0, timeout=10) as c:
        yield c


def sync_client(sim: Simulator, api_key: str = "sk-test") -> openai.OpenAI:
    return openai.OpenAI(api_key=api_key, base_url=f"{sim.base_url}/v1", max_retries=0, timeout=10)


async def in_thread(sim: Simulator, call: Callable[[openai.OpenAI], T], api_key: str = "sk-test") -> T:
    """Run a sync-client call off the event loop that serves the simulator."""

    def run() -> T:
        with sync_client(sim, api_key) as c:
            return call(c)

    return await asyncio.to_thread(run)


# -- answers ------------------------------------------------------------------------------------------------


async def test_async_create(client: openai.AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(model=MODEL, messages=HI)
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == MODEL
    assert completion.system_fingerprint == "fp_simulator"
    [choice] = completion.choices
    assert (choice.index, choice.finish_reason) == (0, "stop")
    assert choice.message.role == "assistant"
    assert choice.message.content == f"{MODEL} says: Hi there"
    assert choice.message.refusal is None
    assert choice.message.tool_calls is None
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0


async def test_sync_create(sim: Simulator) -> None:
    completion = await in_thread(sim, lambda c: c.chat.completions.create(model=MODEL, messages=HI))
    assert completion.choices[0].message.content == f"{MODEL} says: Hi there"
    assert sim.requests == {f"openai:{MODEL}": 1}


async def test_raw_response_headers(client: openai.AsyncOpenAI) -> None:
    raw = await client.chat.completions.with_raw_response.create(model=MODEL, messages=HI)
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.parse().choices[0].message.content == f"{MODEL} says: Hi there"


async def test_models_list(client: openai.AsyncOpenAI) -> None:
    models = [m.id async for m in client.models.list()]
    assert models == [MODEL]


async def test_tools(client: openai.AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(model=MODEL, messages=HI, tools=[WEATHER])
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    [call] = choice.message.tool_calls
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "sample city", "days": 42}


async def test_tool_result_round_trip(client: openai.AsyncOpenAI) -> None:
    first = await client.chat.completions.create(model=MODEL, messages=HI, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    messages = [
        *HI,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    second = await client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    assert second.choices[0].message.content == "The tool returned: sunny"


async def test_json_schema(client: openai.AsyncOpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "year": {"type": "integer"}, "good": {"type": "boolean"}},
        "required": ["title", "year", "good"],
        "additionalProperties": False,
    }
    completion = await client.chat.completions.create(
        model=MODEL,
        messages=HI,
        response_format={"type": "json_schema", "json_schema": {"name": "film", "schema": schema, "strict": True}},
    )
    content = completion.choices[0].message.content
    assert content is not None
    data = json.loads(content)
    assert set(data) == {"title", "year", "good"}
    assert (type(data["title"]), type(data["year"]), type(data["good"])) == (str, int, bool)


class Forecast(pydantic.BaseModel):
    city: str
    days: int
    rain: bool
    temperatures: list[float]


async def test_parse_with_pydantic_model(client: openai.AsyncOpenAI) -> None:
    completion = await client.chat.completions.parse(model=MODEL, messages=HI, response_format=Forecast)
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Forecast)
    assert parsed.days == 42
    assert parsed.temperatures == [3.5]


# -- streams ------------------------------------------------------------------------------------------------


async def test_stream_with_usage(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Tell me something nice today"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"{MODEL} says: Tell me something nice today"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


async def test_stream_without_usage_has_no_usage_chunk(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(model=MODEL, messages=HI, stream=True)
    chunks = [chunk async for chunk in stream]
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


async def test_sync_stream(sim: Simulator) -> None:
    def run(c: openai.OpenAI) -> list[Any]:
        return list(c.chat.completions.create(model=MODEL, messages=HI, stream=True))

    chunks = await in_thread(sim, run)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == f"{MODEL} says: Hi there"


async def test_stream_tool_call(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(model=MODEL, messages=HI, tools=[WEATHER], stream=True)
    name, arguments, ids = "", "", []
    async for chunk in stream:
        for delta in chunk.choices[0].delta.tool_calls or []:
            assert delta.index == 0
            if delta.id:
                ids.append(delta.id)
            if delta.function and delta.function.name:
                name += delta.function.name
            if delta.function and delta.function.arguments:
                arguments += delta.function.arguments
    assert len(ids) == 1
    assert name == "get_weather"
    assert json.loads(arguments) == {"city": "sample city", "days": 42}


async def test_stream_helper_accumulates(client: openai.AsyncOpenAI) -> None:
    async with client.chat.completions.stream(model=MODEL, messages=HI) as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_completion()
    assert final.choices[0].message.content == f"{MODEL} says: Hi there"


# -- Azure OpenAI -------------------------------------------------------------------------------------------


async def test_azure_client(sim: Simulator) -> None:
    def run() -> Any:
        with openai.AzureOpenAI(
            azure_endpoint=sim.base_url, api_version="2024-10-21", api_key="az-key", max_retries=0, timeout=10
        ) as c:
            return c.chat.completions.create(model="my-deployment", messages=HI)

    completion = await asyncio.to_thread(run)
    assert completion.choices[0].message.content == "my-deployment says: Hi there"
    assert sim.requests == {"azure:my-deployment": 1}


async def test_async_azure_client_stream(sim: Simulator) -> None:
    async with openai.AsyncAzureOpenAI(
        azure_endpoint=sim.base_url, api_version="2024-10-21", api_key="az-key", max_retries=0, timeout=10
    ) as c:
        stream = await c.chat.completions.create(
            model="dep", messages=HI, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == "dep says: Hi there"
    assert chunks[-1].usage is not None


async def test_azure_content_filter_is_a_bad_request(sim: Simulator) -> None:
    sim.set_faults("azure", {"content_filter_rate": 1.0})
    async with openai.AsyncAzureOpenAI(
        azure_endpoint=sim.base_url, api_version="2024-10-21", api_key="az-key", max_retries=0, timeout=10
    ) as c:
        with pytest.raises(openai.BadRequestError) as caught:
            await c.chat.completions.create(model="dep", messages=HI)
    assert caught.value.status_code == 400
    assert caught.value.code == "content_filter"


async def test_openai_content_filter_is_a_finish_reason(client: openai.AsyncOpenAI, sim: Simulator) -> None:
    sim.set_faults("openai", {"content_filter_rate": 1.0})
    completion = await client.chat.completions.create(model=MODEL, messages=HI)
    assert completion.choices[0].finish_reason == "content_filter"
    assert completion.choices[0].message.content is None


# -- errors -------------------------------------------------------------------------------------------------


async def test_authentication_error(sim: Simulator) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        await in_thread(sim, lambda c: c.chat.completions.create(model=MODEL, messages=HI), api_key="invalid")
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"


async def test_rate_limit_error(client: openai.AsyncOpenAI, sim: Simulator) -> None:
    sim.set_faults("openai", {"rate_limit_rate": 1.0, "retry_after_s": 7})
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model=MODEL, messages=HI)
    assert caught.value.status_code == 429
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.response.headers["retry-after"] == "7"


@pytest.mark.parametrize("status", [500, 503])
async def test_internal_server_error(client: openai.AsyncOpenAI, sim: Simulator, status: int) -> None:
    sim.set_faults("openai", {"error_rate": 1.0, "error_status": status})
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(model=MODEL, messages=HI)
    assert caught.value.status_code == status


async def test_context_length_error(client: openai.AsyncOpenAI, sim: Simulator) -> None:
    sim.set_faults(f"openai:{MODEL}", {"context_window": 2})
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model=MODEL, messages=HI)
    assert caught.value.code == "context_length_exceeded"


async def test_missing_model_is_a_bad_request(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="model"):
        await client.chat.completions.create(model="", messages=HI)


async def test_azure_without_api_version_is_not_found(sim: Simulator) -> None:
    # The Azure SDK always sends api-version; a plain client pointed at the deployment path does not.
    async with openai.AsyncOpenAI(
        api_key="az-key", base_url=f"{sim.base_url}/openai/deployments/dep", max_retries=0, timeout=10
    ) as c:
        with pytest.raises(openai.NotFoundError):
            await c.chat.completions.create(model="dep", messages=HI)


# -- malformed requests get OpenAI's 400, never a server error ----------------------------------------------

CHAT = "/v1/chat/completions"
AZURE = "/openai/deployments/dep/chat/completions?api-version=2024-10-21"


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        (CHAT, b"{not json"),
        (CHAT, b"[]"),
        (CHAT, b'{"messages": [{"role": "user", "content": "x"}]}'),
        (CHAT, b'{"model": "m", "messages": []}'),
        (CHAT, b'{"model": "m", "messages": ["hi"]}'),
        (CHAT, b'{"model": "m", "messages": [{"role": "robot", "content": "x"}]}'),
        (CHAT, b'{"model": "m", "messages": [{"role": "user", "content": [{"type": "audio"}]}]}'),
        (CHAT, b'{"model": "m", "messages": [{"role": "user", "content": 5}]}'),
        (CHAT, b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": ["f"]}'),
        (AZURE, b"[]"),
        (AZURE, b'{"messages": "hi"}'),
    ],
    ids=[
        "not-json", "array", "no-model", "no-messages", "message-not-object", "bad-role", "bad-part",
        "content-number", "tool-not-object", "azure-array", "azure-messages-string",
    ],
)
async def test_malformed_request_is_a_400(sim: Simulator, path: str, payload: bytes) -> None:
    async with aiohttp.ClientSession() as session, session.post(
        sim.base_url + path, data=payload, headers={"authorization": "Bearer k", "content-type": "application/json"}
    ) as response:
        assert response.status == 400
        body = await response.json()
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"]
