"""OpenAI request bodies → canonical requests: what is translated, passed through or rejected."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchyard import ImagePart, InvalidRequestError, TextPart, ToolCall, ToolChoice
from switchyard.server.openai_ingress import parse_chat_request


def parse(**body: Any) -> Any:
    body.setdefault("model", "gpt")
    body.setdefault("messages", [{"role": "user", "content": "hi"}])
    return parse_chat_request(orjson.dumps(body))


def test_a_forced_tool_must_be_among_the_tools() -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    with pytest.raises(InvalidRequestError, match="names tool 'delete_all', which is not in 'tools'") as caught:
        parse(tools=tools, tool_choice={"type": "function", "function": {"name": "delete_all"}})
    assert caught.value.param == "tool_choice"
    with pytest.raises(InvalidRequestError, match="forces a tool call but no 'tools' are given"):
        parse(tool_choice="required")
    assert parse(tools=tools, tool_choice="required").tool_choice == ToolChoice("required")


def test_full_request_translates_every_field() -> None:
    request = parse(
        messages=[
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
            ], "name": "ann"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "look", "arguments": "{\"x\":1}"}}
            ]},
            {"role": "tool", "tool_call_id": "c1", "content": "a cat"},
        ],
        tools=[{"type": "function", "function": {"name": "look", "parameters": {"type": "object"}, "strict": True}}],
        tool_choice={"type": "function", "function": {"name": "look"}},
        parallel_tool_calls=False,
        response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}},
        temperature=0.2, top_p=0.9, max_completion_tokens=50, stop="END", seed=7, n=2,
        presence_penalty=0.1, frequency_penalty=0.2, logprobs=True, top_logprobs=3, logit_bias={"1": 2.0},
        user="u-1", stream=True, stream_options={"include_usage": True},
    )
    system, user, assistant, tool = request.messages
    assert system.role == "system"
    assert system.text == "be brief"
    assert user.content == [TextPart("what is this?"), ImagePart("data:image/png;base64,AAAA", "low")]
    assert user.name == "ann"
    assert assistant.tool_calls == [ToolCall(id="c1", name="look", arguments='{"x":1}')]
    assert tool.role == "tool"
    assert tool.tool_call_id == "c1"
    assert tool.text == "a cat"
    assert request.tools[0].strict is True
    assert request.tool_choice == ToolChoice("tool", "look")
    assert request.response_format is not None
    assert request.response_format.schema == {"type": "object"}
    assert (request.max_tokens, request.stop, request.seed, request.n) == (50, ["END"], 7, 2)
    assert (request.logprobs, request.top_logprobs, request.logit_bias) == (True, 3, {"1": 2.0})
    assert request.stream
    assert request.include_usage
    assert request.extra == {}


def test_unknown_top_level_fields_travel_in_extra() -> None:
    request = parse(service_tier="flex", top_k=40, metadata={"a": "b"})
    assert request.extra == {"service_tier": "flex", "top_k": 40, "metadata": {"a": "b"}}


def test_assistant_message_echoed_from_a_response_is_accepted() -> None:
    request = parse(messages=[
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "refusal": "I can't help with that.", "annotations": []},
        {"role": "user", "content": "ok"},
    ])
    assert request.messages[1].text == "I can't help with that."


@pytest.mark.parametrize(
    ("body", "fragment", "param"),
    [
        ({"messages": "hi"}, "Expected `array`, got `str` at 'messages'", "messages"),
        ({"max_tokens": 0}, "'max_tokens' must be at least 1", "max_tokens"),
        ({"n": 0}, "'n' must be at least 1", "n"),
        ({"top_p": 1.5}, "'top_p' must be between 0 and 1", "top_p"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "at most 4", "stop"),
        ({"tool_choice": "sometimes"}, "tool_choice", "tool_choice"),
        ({"response_format": {"type": "json_schema"}}, "needs 'json_schema'", "response_format"),
        ({"messages": [{"role": "user", "content": [{"type": "audio", "data": "x"}]}]}, "messages[0].content", None),
    ],
)
def test_invalid_bodies_say_what_is_wrong(body: dict[str, Any], fragment: str, param: str | None) -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse(**body)
    assert fragment in info.value.message
    if param is not None:
        assert info.value.param == param


def test_max_tokens_and_stop_list() -> None:
    request = parse(max_tokens=10, stop=["a", "b"])
    assert request.max_tokens == 10
    assert request.stop == ["a", "b"]
    assert not request.stream
    assert not request.include_usage
