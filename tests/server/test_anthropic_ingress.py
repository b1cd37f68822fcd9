"""Anthropic Messages bodies → canonical requests, and the 400s for what cannot be served."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchyard.errors import InvalidRequestError
from switchyard.server.anthropic_ingress import parse_count_tokens_request, parse_messages_request
from switchyard.types import ImagePart, Message, ResponseFormat, TextPart, Tool, ToolCall, ToolChoice

WEATHER: Any = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def body(**fields: Any) -> bytes:
    data: dict[str, Any] = {"model": "gpt", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}
    data.update(fields)
    return orjson.dumps(data)


def rejected(raw: bytes, *, count: bool = False) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as caught:
        (parse_count_tokens_request if count else parse_messages_request)(raw)
    return caught.value


def test_minimal_request() -> None:
    request = parse_messages_request(body())
    assert request.model == "gpt"
    assert request.max_tokens == 64
    assert request.messages == [Message(role="user", content=[TextPart("Hi")])]
    assert not request.stream
    assert request.extra == {}


def test_sampling_stop_stream_and_metadata() -> None:
    request = parse_messages_request(body(
        temperature=0.5, top_p=0.9, stop_sequences=["END"], stream=True,
        metadata={"user_id": "u-1", "tags": ["eu", "private"]},
    ))
    assert (request.temperature, request.top_p, request.stop, request.stream) == (0.5, 0.9, ["END"], True)
    assert request.user == "u-1"
    assert request.tags == ["eu", "private"]


@pytest.mark.parametrize(
    "system",
    [
        "Be brief.",
        [{"type": "text", "text": "Be ", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "brief."}],
    ],
)
def test_system_string_or_blocks_lead_the_conversation(system: Any) -> None:
    request = parse_messages_request(body(system=system))
    assert request.messages[0].role == "system"
    assert request.messages[0].text == "Be brief."
    assert request.messages[1].text == "Hi"


def test_system_turns_in_messages_are_system_messages() -> None:
    request = parse_messages_request(body(messages=[
        {"role": "system", "content": "rules"}, {"role": "user", "content": [{"type": "text", "text": "q"}]},
    ]))
    assert [m.role for m in request.messages] == ["system", "user"]


def test_images_become_image_parts() -> None:
    request = parse_messages_request(body(messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]}]))
    parts = request.messages[0].content
    assert parts[0] == TextPart("What is this?")
    assert parts[1] == ImagePart("data:image/png;base64,iVBORw0KGgo=")
    assert parts[2] == ImagePart("https://example.com/cat.jpg")


def test_tool_round_trip_maps_to_calls_and_tool_messages() -> None:
    request = parse_messages_request(body(
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Weather in Oslo and Lima?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Lima"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": True,
                 "content": [{"type": "text", "text": "station "}, {"type": "text", "text": "offline"}]},
                {"type": "text", "text": "Summarise."},
            ]},
        ],
    ))
    assert request.tools == [Tool(name="get_weather", description="Weather for a city",
                                  parameters=WEATHER["input_schema"])]
    user, assistant, first, second, follow_up = request.messages
    assert user.text == "Weather in Oslo and Lima?"
    assert assistant.text == "Checking."
    assert assistant.tool_calls == [
        ToolCall(id="toolu_1", name="get_weather", arguments='{"city":"Oslo"}'),
        ToolCall(id="toolu_2", name="get_weather", arguments='{"city":"Lima"}'),
    ]
    assert (first.role, first.tool_call_id, first.text, first.is_error) == ("tool", "toolu_1", "sunny", False)
    assert (second.role, second.tool_call_id, second.text, second.is_error) == ("tool", "toolu_2", "station offline",
                                                                               True)
    assert (follow_up.role, follow_up.text) == ("user", "Summarise.")


def test_tool_result_without_content_and_without_text_is_one_tool_message() -> None:
    request = parse_messages_request(body(tools=[WEATHER], messages=[
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]},
    ]))
    assert [m.role for m in request.messages] == ["user", "assistant", "tool"]
    assert request.messages[2].content == []


@pytest.mark.parametrize(
    ("choice", "expected", "parallel"),
    [
        ({"type": "auto"}, ToolChoice("auto"), None),
        ({"type": "any"}, ToolChoice("required"), None),
        ({"type": "tool", "name": "get_weather"}, ToolChoice("tool", "get_weather"), None),
        ({"type": "none"}, ToolChoice("none"), None),
        ({"type": "auto", "disable_parallel_tool_use": True}, ToolChoice("auto"), False),
        ({"type": "any", "disable_parallel_tool_use": False}, ToolChoice("required"), None),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: ToolChoice, parallel: bool | None) -> None:
    request = parse_messages_request(body(tools=[WEATHER], tool_choice=choice))
    assert request.tool_choice == expected
    assert request.parallel_tool_calls is parallel


def test_output_config_format_is_a_json_schema_response_format() -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    request = parse_messages_request(body(output_config={"format": {"type": "json_schema", "schema": schema}}))
    assert request.response_format == ResponseFormat(type="json_schema", name="response", schema=schema)


def test_anthropic_only_fields_and_max_cost_travel_in_extra() -> None:
    request = parse_messages_request(body(top_k=5, service_tier="auto", max_cost=0.5))
    assert request.extra == {"top_k": 5, "service_tier": "auto", "max_cost": 0.5}


def test_disabled_thinking_and_cache_control_are_accepted() -> None:
    request = parse_messages_request(body(thinking={"type": "disabled"}, cache_control={"type": "ephemeral"}))
    assert request.extra == {}


@pytest.mark.parametrize(
    ("fields", "param", "words"),
    [
        ({"max_tokens": None}, "max_tokens", "'max_tokens' is required"),
        ({"max_tokens": 0}, "max_tokens", "at least 1"),
        ({"temperature": 1.5}, "temperature", "between 0 and 1"),
        ({"top_p": -0.1}, "top_p", "between 0 and 1"),
        ({"top_k": 0}, "top_k", "at least 1"),
        ({"stop_sequences": ["ok", " \n"]}, "stop_sequences[1]", "non-whitespace"),
        ({"messages": []}, "messages", "at least one message"),
        ({"temperature": "hot"}, "temperature", "Expected `float | null`, got `str`"),
        ({"frequency_penalty": 1}, "frequency_penalty", "unknown field 'frequency_penalty'"),
        ({"mcp_servers": []}, "mcp_servers", "not supported"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, "thinking", "'thinking' is not supported"),
        ({"output_config": {"effort": "high"}}, "output_config.effort", "not supported"),
        ({"metadata": {"session": "x"}}, "metadata", "unknown field `session`"),
    ],
)
def test_invalid_fields_name_the_parameter(fields: dict[str, Any], param: str, words: str) -> None:
    data: dict[str, Any] = {"model": "gpt", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}
    data.update(fields)
    error = rejected(orjson.dumps({k: v for k, v in data.items() if v is not None}))
    assert error.param == param
    assert words in error.message
    assert error.status_code == 400


@pytest.mark.parametrize(
    ("messages", "param", "words"),
    [
        ([{"role": "tool", "content": "x"}], "messages[0].role", "roles are 'user', 'assistant' and 'system'"),
        ([{"role": "user", "content": [{"type": "document", "source": {}}]}], "messages[0].content[0].type",
         "user turns carry text, image and tool_result blocks"),
        ([{"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "t"}]}],
         "messages[0].content[0].type", "Invalid value 'tool_result'"),
        ([{"role": "user", "content": [{"type": "tool_result"}]}], "messages[0].content[0]",
         "missing required field `tool_use_id`"),
        ([{"role": "user", "content": [{"type": "text", "text": "x", "extra": 1}]}], "messages[0].content[0]",
         "unknown field `extra`"),
        ([{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/bmp",
                                                                    "data": "AAAA"}}]}],
         "messages[0].content[0].source.media_type", "must be one of"),
        ([{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                    "data": "data:image/png;base64,AAAA"}}]}],
         "messages[0].content[0].source.data", "no 'data:' prefix"),
        ([{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}],
         "messages[0].content[0].source.type", "image sources are 'base64' and 'url'"),
        ([{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": "{}"}]}],
         "messages[0].content[0].input", "Expected `object`, got `str`"),
    ],
)
def test_invalid_messages_name_the_block(messages: list[Any], param: str, words: str) -> None:
    error = rejected(body(messages=messages))
    assert error.param == param
    assert words in error.message


@pytest.mark.parametrize(
    ("fields", "param", "words"),
    [
        ({"tools": [WEATHER, WEATHER]}, "tools", "'get_weather' is given twice"),
        ({"tools": [{"name": "f", "input_schema": {"type": "string"}}]}, "tools[0].input_schema", "type 'object'"),
        ({"tools": [{"name": "", "input_schema": {"type": "object"}}]}, "tools[0].name", "must not be empty"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type", "only custom tools"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools[0].type", "only custom tools"),
        ({"tools": [WEATHER], "tool_choice": {"type": "tool", "name": "other"}}, "tool_choice.name",
         "not in 'tools'"),
        ({"tool_choice": {"type": "any"}}, "tool_choice", "no 'tools' are given"),
        ({"tools": [WEATHER], "tool_choice": {"type": "required"}}, "tool_choice.type",
         "tool_choice types are 'auto', 'any', 'tool' and 'none'"),
    ],
)
def test_invalid_tools(fields: dict[str, Any], param: str, words: str) -> None:
    error = rejected(body(**fields))
    assert error.param == param
    assert words in error.message


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]"])
def test_body_must_be_a_json_object(raw: bytes) -> None:
    assert "JSON" in rejected(raw).message


def test_count_tokens_takes_the_prompt_fields_only() -> None:
    raw = orjson.dumps({"model": "claude", "system": "s", "messages": [{"role": "user", "content": "Hi"}],
                        "tools": [WEATHER], "tool_choice": {"type": "auto"}})
    request = parse_count_tokens_request(raw)
    assert [m.role for m in request.messages] == ["system", "user"]
    assert [t.name for t in request.tools] == ["get_weather"]
    assert request.max_tokens is None
    error = rejected(orjson.dumps({"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
                     count=True)
    assert error.param == "max_tokens"
    assert "unknown field 'max_tokens' for /v1/messages/count_tokens" in error.message
