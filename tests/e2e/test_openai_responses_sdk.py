"""The official ``openai`` SDK's Responses API (``client.responses``), pointed at a running gateway (uvicorn, real
sockets) by ``base_url`` only, answered by simulated OpenAI, Anthropic and Gemini deployments and a route."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage
from tests.conftest import LiveStack

WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": True,
}
PNG = "data:image/png;base64,iVBORw0KGgo="
MODELS = ["gpt", "claude", "gemini"]
UPSTREAM = {"gpt": "gpt-4o-mini", "claude": "claude-sonnet-4-6", "gemini": "gemini-2.0-flash"}
ANSWERING = [*MODELS, "chain"]
"""``chain`` is a route: its first targets are down and flaky, a fallback answers."""


def client_for(live: LiveStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live.gateway_url}/v1", api_key="unused", max_retries=0, timeout=10)


@pytest.mark.parametrize("model", ANSWERING)
def test_string_input(live: LiveStack, model: str) -> None:
    with client_for(live) as client:
        raw = client.responses.with_raw_response.create(model=model, input="Hi there", store=False)
        response = raw.parse()
    assert response.object == "response"
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.model == model
    assert response.output_text.endswith("says: Hi there")
    message = response.output[0]
    assert isinstance(message, ResponseOutputMessage)
    assert message.id.startswith("msg_")
    assert message.status == "completed"
    assert response.usage is not None
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert raw.headers["x-switchyard-provider"]
    assert raw.headers["x-switchyard-cost-usd"] != ""
    if model in UPSTREAM:
        assert raw.headers["x-switchyard-deployment"] == model
        assert response.output_text == f"{UPSTREAM[model]} says: Hi there"
    else:
        assert raw.headers["x-switchyard-fallback"] == "true"


@pytest.mark.parametrize("model", MODELS)
def test_instructions_and_multi_turn_list_input(live: LiveStack, model: str) -> None:
    with client_for(live) as client:
        response = client.responses.create(
            model=model,
            instructions="Be brief.",
            input=[
                {"role": "user", "content": "My name is Ada."},
                {"role": "assistant", "content": "Hello Ada."},
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Stay on topic."}]},
                {"role": "user", "content": [{"type": "input_text", "text": "What is my name?"}]},
            ],
            temperature=0.3,
            metadata={"team": "search"},
        )
    assert response.output_text == f"{UPSTREAM[model]} says: What is my name?"
    assert response.instructions == "Be brief."
    assert response.temperature == 0.3
    assert response.metadata == {"team": "search"}


@pytest.mark.parametrize("model", MODELS)
def test_image_as_data_uri(live: LiveStack, model: str) -> None:
    with client_for(live) as client:
        response = client.responses.create(
            model=model,
            input=[
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "What is in this picture?"},
                        {"type": "input_image", "image_url": PNG, "detail": "low"},
                    ],
                }
            ],
        )
    assert response.output_text == f"{UPSTREAM[model]} says: What is in this picture? I see 1 image(s)."


@pytest.mark.parametrize("model", MODELS)
def test_function_tool_round_trip(live: LiveStack, model: str) -> None:
    with client_for(live) as client:
        history: list[Any] = [{"role": "user", "content": "Weather in Oslo?"}]
        first = client.responses.create(model=model, input=history, tools=[WEATHER], store=False)
        calls = [item for item in first.output if isinstance(item, ResponseFunctionToolCall)]
        assert len(calls) == 1
        call = calls[0]
        assert call.name == "get_weather"
        assert json.loads(call.arguments) == {"city": "sample city"}
        assert call.id is not None
        assert call.id.startswith("fc_")
        assert first.output_text == ""
        assert first.tools[0].name == "get_weather"  # type: ignore[union-attr]
        # What agent frameworks do: send the model's output items back, then the tool's result.
        history += [item.model_dump(exclude_none=True) for item in first.output]
        history.append({"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"})
        second = client.responses.create(model=model, input=history, tools=[WEATHER], store=False)
    assert second.status == "completed"
    assert second.output_text == "The tool returned: sunny, 21 C"


@pytest.mark.parametrize("model", MODELS)
def test_json_schema_text_format(live: LiveStack, model: str) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["name", "population"],
        "additionalProperties": False,
    }
    with client_for(live) as client:
        response = client.responses.create(
            model=model,
            input="Paris as JSON",
            text={"format": {"type": "json_schema", "name": "city", "schema": schema, "strict": True}},
        )
    assert set(json.loads(response.output_text)) == {"name", "population"}
    assert response.text is not None
    assert response.text.format is not None
    assert response.text.format.type == "json_schema"


@pytest.mark.parametrize("model", MODELS)
def test_max_output_tokens_makes_an_incomplete_response(live: LiveStack, model: str) -> None:
    with client_for(live) as client:
        response = client.responses.create(
            model=model, input="Please write a long answer about the history of bridges", max_output_tokens=3
        )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.max_output_tokens == 3
    assert 0 < len(response.output_text) <= 12
    assert response.output[0].status == "incomplete"  # type: ignore[union-attr]


@pytest.mark.parametrize("model", ANSWERING)
def test_stream_helper_accumulates_text(live: LiveStack, model: str) -> None:
    with client_for(live) as client, client.responses.stream(model=model, input="Tell me something nice") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert len(deltas) > 1
    assert "".join(deltas) == final.output_text
    assert final.output_text.endswith("says: Tell me something nice")
    assert final.status == "completed"
    assert final.usage is not None
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize("model", MODELS)
def test_create_stream_true_yields_ordered_events(live: LiveStack, model: str) -> None:
    with client_for(live) as client:
        events = list(client.responses.create(model=model, input="Stream this please", stream=True))
    kinds = [event.type for event in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert text == f"{UPSTREAM[model]} says: Stream this please"
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.output_text == text
    assert completed.response.id == events[0].response.id  # type: ignore[union-attr]


@pytest.mark.parametrize("model", MODELS)
def test_streamed_function_call(live: LiveStack, model: str) -> None:
    with client_for(live) as client, client.responses.stream(model=model, input="Weather?", tools=[WEATHER]) as stream:
        argument_deltas = [e.delta for e in stream if e.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()
    call = final.output[0]
    assert isinstance(call, ResponseFunctionToolCall)
    assert call.name == "get_weather"
    assert "".join(argument_deltas) == call.arguments
    # The SDK parses a strict function tool's arguments itself.
    assert call.parsed_arguments == {"city": "sample city"}


async def test_async_stream_helper(live: LiveStack) -> None:
    async with (
        openai.AsyncOpenAI(base_url=f"{live.gateway_url}/v1", api_key="x", max_retries=0) as client,
        client.responses.stream(model="claude", input="async stream") as stream,
    ):
        final = await stream.get_final_response()
    assert final.output_text == "claude-sonnet-4-6 says: async stream"


def test_incomplete_stream_ends_with_response_incomplete(live: LiveStack) -> None:
    with client_for(live) as client:
        events = list(client.responses.create(
            model="gpt", input="a rather long question about many things", max_output_tokens=2, stream=True
        ))
    last = events[-1]
    assert last.type == "response.incomplete"
    assert last.response.incomplete_details is not None
    assert last.response.incomplete_details.reason == "max_output_tokens"


def test_stored_conversations_are_a_clear_400(live: LiveStack) -> None:
    with client_for(live) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            client.responses.create(model="gpt", input="and then?", previous_response_id="resp_123")
        assert "stored conversations are not supported yet" in str(refused.value)
        assert "store: false" in str(refused.value)
        with pytest.raises(openai.BadRequestError) as hosted:
            client.responses.create(model="gpt", input="news?", tools=[{"type": "web_search"}])
        assert "tool type 'web_search' is not supported" in str(hosted.value)
        with pytest.raises(openai.NotFoundError):
            client.responses.create(model="no-such", input="x")


def test_mid_stream_failure_is_an_error_event_then_response_failed(live: LiveStack) -> None:
    live.sim.set_faults("openai", {"cut_stream_rate": 1.0, "cut_after_chunks": 2})
    try:
        with client_for(live) as client:
            events = list(client.responses.create(
                model="gpt", input="one two three four five six seven eight nine ten", stream=True
            ))
            with (
                client.responses.stream(model="gpt", input="one two three four five six seven eight") as stream,
                pytest.raises(RuntimeError, match=r"response\.completed"),
            ):
                stream.get_final_response()
    finally:
        live.sim.clear_faults()
    kinds = [event.type for event in events]
    assert "response.output_text.delta" in kinds
    assert kinds[-2:] == ["error", "response.failed"]
    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.response.status == "failed"
    assert failed.response.error is not None
    assert failed.response.output_text != ""
