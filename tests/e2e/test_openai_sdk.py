"""The official ``openai`` SDK, pointed at a running gateway (uvicorn, real sockets) by ``base_url`` only."""

from __future__ import annotations

import json

import openai
import pytest
from tests.conftest import LiveStack

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
MODELS = ["gpt", "azure-gpt", "claude", "gemini"]


def sync_client(live: LiveStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live.gateway_url}/v1", api_key="unused", max_retries=0, timeout=10)


@pytest.mark.parametrize("model", MODELS)
def test_sync_create(live: LiveStack, model: str) -> None:
    with sync_client(live) as client:
        raw = client.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
        )
        completion = raw.parse()
    assert completion.choices[0].message.content is not None
    assert completion.choices[0].message.content.endswith("says: Hi")
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens > 0
    assert raw.headers["x-switchyard-deployment"] == model
    assert raw.headers["x-request-id"]


@pytest.mark.parametrize("model", MODELS)
def test_sync_stream_with_usage(live: LiveStack, model: str) -> None:
    with sync_client(live) as client:
        stream = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Tell me something nice today"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.endswith("says: Tell me something nice today")
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens > 0
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]


@pytest.mark.parametrize("model", MODELS)
def test_tools_round_trip(live: LiveStack, model: str) -> None:
    with sync_client(live) as client:
        messages: list[dict[str, object]] = [{"role": "user", "content": "Weather in Oslo?"}]
        first = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER])  # type: ignore[arg-type]
        call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
        assert first.choices[0].finish_reason == "tool_calls"
        assert call.function.name == "get_weather"  # type: ignore[union-attr]
        assert set(json.loads(call.function.arguments)) == {"city"}  # type: ignore[union-attr]
        messages.append(first.choices[0].message.model_dump(exclude_none=True))
        messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"})
        second = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER])  # type: ignore[arg-type]
    assert second.choices[0].message.content == "The tool returned: sunny, 21 C"


@pytest.mark.parametrize("model", MODELS)
def test_streamed_tool_call_reassembles(live: LiveStack, model: str) -> None:
    with sync_client(live) as client:
        stream = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Weather in Lima?"}], tools=[WEATHER], stream=True  # type: ignore[list-item]
        )
        name, arguments = "", ""
        for chunk in stream:
            for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                name += delta.function.name or "" if delta.function else ""
                arguments += delta.function.arguments or "" if delta.function else ""
    assert name == "get_weather"
    assert json.loads(arguments) == {"city": "sample city"}


async def test_async_client_and_json_schema(live: LiveStack) -> None:
    schema = {
        "name": "city",
        "schema": {"type": "object", "properties": {"name": {"type": "string"}, "population": {"type": "integer"}}},
    }
    async with openai.AsyncOpenAI(base_url=f"{live.gateway_url}/v1", api_key="x", max_retries=0) as client:
        for model in MODELS:
            completion = await client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": "Paris as JSON"}],
                response_format={"type": "json_schema", "json_schema": schema},  # type: ignore[typeddict-item]
            )
            content = completion.choices[0].message.content
            assert content is not None
            assert set(json.loads(content)) == {"name", "population"}, model
        streamed = await client.chat.completions.create(
            model="gpt", messages=[{"role": "user", "content": "async stream"}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in streamed if c.choices])
    assert text == "gpt-4o-mini says: async stream"


def test_models_list(live: LiveStack) -> None:
    with sync_client(live) as client:
        ids = [m.id for m in client.models.list()]
    assert {"gpt", "claude", "gemini", "azure-gpt", "chain"} <= set(ids)


def test_sdk_errors_are_typed(live: LiveStack) -> None:
    with sync_client(live) as client:
        with pytest.raises(openai.NotFoundError) as not_found:
            client.chat.completions.create(model="no-such", messages=[{"role": "user", "content": "x"}])
        assert "unknown model or route 'no-such'" in str(not_found.value)
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "x"}], temperature=9)
        live.sim.set_faults("openai", {"rate_limit_rate": 1.0, "retry_after_s": 2})
        try:
            with pytest.raises(openai.RateLimitError) as limited:
                client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "x"}])
            assert limited.value.response.headers["retry-after"] == "2"
        finally:
            live.sim.clear_faults()


def test_mid_stream_failure_raises_in_the_sdk(live: LiveStack) -> None:
    live.sim.set_faults("openai", {"cut_stream_rate": 1.0, "cut_after_chunks": 2})
    try:
        with sync_client(live) as client:
            stream = client.chat.completions.create(
                model="gpt", messages=[{"role": "user", "content": "one two three four five six"}], stream=True
            )
            with pytest.raises(openai.APIError, match=r"stream ended before it was complete|upstream"):
                for _ in stream:
                    pass
    finally:
        live.sim.clear_faults()
