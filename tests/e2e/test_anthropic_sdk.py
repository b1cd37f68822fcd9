"""The official ``anthropic`` SDK, pointed at a running gateway (uvicorn, real sockets) by ``base_url`` only: an
OpenAI, a Gemini and an Anthropic deployment and a route all answer in Anthropic's format."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
import uvicorn
from tests.conftest import LiveStack, serve, sim_config

from switchyard import Gateway, GatewayApp, parse_config

WEATHER: Any = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
MODELS = ["gpt", "gemini", "claude", "chain"]
"""An OpenAI, a Gemini and an Anthropic deployment, and a route whose first live target is OpenAI's."""
UPSTREAM = {"gpt": "gpt-4o-mini", "gemini": "gemini-2.0-flash", "claude": "claude-sonnet-4-6", "chain": "gpt-flaky"}
MASTER = "sk-master-test-only"


def client_for(url: str, key: str = "unused") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key=key, max_retries=0, timeout=10)


@pytest.fixture(scope="module")
def locked_url(live: LiveStack) -> Iterator[str]:
    """A second gateway over the same simulator that requires an API key (the master key opens it)."""

    async def start() -> tuple[uvicorn.Server, asyncio.Future[None], str]:
        config = sim_config(live.sim.base_url, governance={"master_key": MASTER})
        return await serve(GatewayApp(Gateway(parse_config(config))))

    server, serving, url = live.run(start())
    try:
        yield url
    finally:

        async def stop() -> None:
            server.should_exit = True
            await serving

        live.run(stop())


@pytest.mark.parametrize("model", MODELS)
def test_create_with_system_prompt(live: LiveStack, model: str) -> None:
    with client_for(live.gateway_url) as client:
        raw = client.messages.with_raw_response.create(
            model=model, max_tokens=200, system="Be brief.", messages=[{"role": "user", "content": "Hi"}]
        )
        message = raw.parse()
        bare = client.messages.create(model=model, max_tokens=200, messages=[{"role": "user", "content": "Hi"}])
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.model == model
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == f"{UPSTREAM[model]} says: Hi"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    assert message.usage.output_tokens > 0
    # The system prompt reached the provider: it is billed as input.
    assert message.usage.input_tokens > bare.usage.input_tokens > 0
    assert raw.headers["x-switchyard-model"] == UPSTREAM[model]
    assert message._request_id == raw.headers["x-request-id"]


@pytest.mark.parametrize("model", MODELS)
def test_multi_turn(live: LiveStack, model: str) -> None:
    with client_for(live.gateway_url) as client:
        message = client.messages.create(model=model, max_tokens=200, messages=[
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Hello Ada."},
            {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]},
        ])
    assert message.content[0].text == f"{UPSTREAM[model]} says: What is my name?"  # type: ignore[union-attr]


@pytest.mark.parametrize("model", MODELS)
def test_stream_helper(live: LiveStack, model: str) -> None:
    prompt = "Tell me something nice today"
    with (
        client_for(live.gateway_url) as client,
        client.messages.stream(model=model, max_tokens=200, messages=[{"role": "user", "content": prompt}]) as s,
    ):
        pieces = list(s.text_stream)
        final = s.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == f"{UPSTREAM[model]} says: {prompt}"
    assert final.content[0].text == "".join(pieces)  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize("model", MODELS)
def test_raw_event_stream(live: LiveStack, model: str) -> None:
    with client_for(live.gateway_url) as client:
        events = list(client.messages.create(
            model=model, max_tokens=200, stream=True, messages=[{"role": "user", "content": "events please"}]
        ))
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]
    assert set(kinds[1:-2]) == {"content_block_start", "content_block_delta", "content_block_stop"}


@pytest.mark.parametrize("model", MODELS)
def test_tools_round_trip(live: LiveStack, model: str) -> None:
    with client_for(live.gateway_url) as client:
        messages: list[Any] = [{"role": "user", "content": "Weather in Oslo?"}]
        first = client.messages.create(model=model, max_tokens=200, messages=messages, tools=[WEATHER])
        assert first.stop_reason == "tool_use"
        call = next(b for b in first.content if b.type == "tool_use")
        assert call.name == "get_weather"
        assert call.input == {"city": "sample city"}
        messages.append({"role": "assistant", "content": first.content})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21 C"},
        ]})
        second = client.messages.create(model=model, max_tokens=200, messages=messages, tools=[WEATHER])
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == "The tool returned: sunny, 21 C"  # type: ignore[union-attr]


@pytest.mark.parametrize("model", MODELS)
def test_streamed_tool_call(live: LiveStack, model: str) -> None:
    with client_for(live.gateway_url) as client, client.messages.stream(
        model=model, max_tokens=200, messages=[{"role": "user", "content": "Weather in Lima?"}], tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert [(b.type, b.name, b.input) for b in final.content if b.type == "tool_use"] == [
        ("tool_use", "get_weather", {"city": "sample city"})
    ]


@pytest.mark.parametrize("model", MODELS)
def test_max_tokens_stop_reason(live: LiveStack, model: str) -> None:
    with client_for(live.gateway_url) as client:
        message = client.messages.create(
            model=model, max_tokens=3, messages=[{"role": "user", "content": "please write a long essay on rivers"}]
        )
    assert message.stop_reason == "max_tokens"
    assert len(message.content[0].text) <= 12  # type: ignore[union-attr]


def test_count_tokens(live: LiveStack) -> None:
    with client_for(live.gateway_url) as client:
        short = client.messages.count_tokens(model="gpt", messages=[{"role": "user", "content": "Hi"}])
        long = client.messages.count_tokens(
            model="chain", system="You are a careful assistant.", tools=[WEATHER],
            messages=[{"role": "user", "content": "What is the weather like in Oslo this week?"}],
        )
    assert 0 < short.input_tokens < long.input_tokens


async def test_async_client(live: LiveStack) -> None:
    async with anthropic.AsyncAnthropic(base_url=live.gateway_url, api_key="x", max_retries=0, timeout=10) as client:
        message = await client.messages.create(
            model="gemini", max_tokens=100, messages=[{"role": "user", "content": "async hello"}]
        )
        async with client.messages.stream(
            model="claude", max_tokens=100, messages=[{"role": "user", "content": "async stream"}]
        ) as stream:
            text = "".join([piece async for piece in stream.text_stream])
    assert message.content[0].text == "gemini-2.0-flash says: async hello"  # type: ignore[union-attr]
    assert text == "claude-sonnet-4-6 says: async stream"


def test_sdk_errors_are_typed(live: LiveStack) -> None:
    with client_for(live.gateway_url) as client:
        with pytest.raises(anthropic.NotFoundError) as not_found:
            client.messages.create(model="no-such", max_tokens=10, messages=[{"role": "user", "content": "x"}])
        assert not_found.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
        assert "unknown model or route 'no-such'" in not_found.value.message
        assert not_found.value.request_id == not_found.value.response.headers["x-request-id"]
        with pytest.raises(anthropic.BadRequestError) as no_max_tokens:
            # The SDK insists on max_tokens, so the body goes out through its low-level post.
            client.post("/v1/messages", cast_to=httpx.Response,
                        body={"model": "gpt", "messages": [{"role": "user", "content": "x"}]})
        assert "'max_tokens' is required" in no_max_tokens.value.message
        with pytest.raises(anthropic.BadRequestError) as top_k:
            client.messages.create(model="gpt", max_tokens=10, messages=[{"role": "user", "content": "x"}],
                                   extra_body={"top_k": 3})
        assert "'top_k' only reaches Anthropic deployments" in top_k.value.message
        live.sim.set_faults("openai", {"rate_limit_rate": 1.0, "retry_after_s": 2})
        try:
            with pytest.raises(anthropic.RateLimitError) as limited:
                client.messages.create(model="gpt", max_tokens=10, messages=[{"role": "user", "content": "x"}])
            assert limited.value.response.headers["retry-after"] == "2"
            assert limited.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
        finally:
            live.sim.clear_faults()


def test_top_k_reaches_an_anthropic_deployment(live: LiveStack) -> None:
    with client_for(live.gateway_url) as client:
        message = client.messages.create(model="claude", max_tokens=50, messages=[{"role": "user", "content": "k"}],
                                         extra_body={"top_k": 3})
    assert message.content[0].text == "claude-sonnet-4-6 says: k"  # type: ignore[union-attr]


def test_keys_are_enforced(locked_url: str) -> None:
    with client_for(locked_url, key="sk-wrong") as client, pytest.raises(anthropic.AuthenticationError) as denied:
        client.messages.create(model="gpt", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert denied.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    with client_for(locked_url, key=MASTER) as client:
        message = client.messages.create(model="gpt", max_tokens=50, messages=[{"role": "user", "content": "x"}])
    assert message.content[0].text == "gpt-4o-mini says: x"  # type: ignore[union-attr]


def test_mid_stream_failure_raises_in_the_sdk(live: LiveStack) -> None:
    live.sim.set_faults("openai", {"cut_stream_rate": 1.0, "cut_after_chunks": 3})
    try:
        with client_for(live.gateway_url) as client:
            stream = client.messages.create(
                model="gpt", max_tokens=200, stream=True,
                messages=[{"role": "user", "content": "one two three four five six seven eight nine"}],
            )
            seen: list[str] = []

            def drain() -> None:
                seen.extend(event.type for event in stream)

            with pytest.raises(anthropic.APIStatusError) as failed:
                drain()
    finally:
        live.sim.clear_faults()
    assert seen[0] == "message_start"
    assert "message_stop" not in seen
    assert failed.value.body["type"] == "error"  # type: ignore[index]
