"""Responses API request bodies → canonical requests: what is translated, accepted and dropped, or refused."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchyard import ImagePart, InvalidRequestError, Message, ResponseFormat, TextPart, ToolCall, ToolChoice
from switchyard.server.responses_ingress import ResponsesRequest, parse_responses_request

PNG = "data:image/png;base64,iVBORw0KGgo="


def parse(**body: Any) -> ResponsesRequest:
    body.setdefault("model", "gpt")
    body.setdefault("input", "hi")
    return parse_responses_request(orjson.dumps(body))


def refusal(**body: Any) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as caught:
        parse(**body)
    return caught.value


def test_full_request_translates_every_field() -> None:
    parsed = parse(
        instructions="Be brief.",
        input=[
            {"role": "developer", "content": "Answer in English."},
            {"role": "user", "content": [
                {"type": "input_text", "text": "what is this?"},
                {"type": "input_image", "image_url": PNG, "detail": "low"},
            ]},
            {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "text": "Let me look.", "annotations": []}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "look", "arguments": "{\"x\":1}",
             "status": "completed"},
            {"type": "function_call_output", "call_id": "call_1", "output": "a cat"},
        ],
        tools=[{"type": "function", "name": "look", "description": "Look closer",
                "parameters": {"type": "object"}, "strict": True}],
        tool_choice={"type": "function", "name": "look"},
        parallel_tool_calls=False,
        max_output_tokens=50,
        temperature=0.2,
        top_p=0.9,
        text={"format": {"type": "json_schema", "name": "r", "schema": {"type": "object"}, "strict": True}},
        stream=True,
        user="u-1",
        metadata={"team": "search", "tags": "eu, cheap"},
        max_cost=0.5,
    )
    chat = parsed.chat
    system, developer, user, assistant, tool = chat.messages
    assert system == Message.system("Be brief.")
    assert developer == Message.system("Answer in English.")
    assert user.content == [TextPart("what is this?"), ImagePart(PNG, "low")]
    assert assistant.text == "Let me look."
    assert assistant.tool_calls == [ToolCall(id="call_1", name="look", arguments='{"x":1}')]
    assert (tool.role, tool.tool_call_id, tool.text) == ("tool", "call_1", "a cat")
    assert chat.tools[0].name == "look"
    assert chat.tools[0].description == "Look closer"
    assert chat.tools[0].strict is True
    assert chat.tool_choice == ToolChoice("tool", "look")
    assert chat.parallel_tool_calls is False
    assert chat.response_format == ResponseFormat(type="json_schema", name="r", schema={"type": "object"},
                                                  strict=True)
    assert (chat.max_tokens, chat.temperature, chat.top_p, chat.user) == (50, 0.2, 0.9, "u-1")
    assert chat.stream
    assert chat.tags == ["eu", "cheap"]
    # Only the gateway's own max_cost travels in extra, and the app layer takes it out before the upstream call.
    assert chat.extra == {"max_cost": 0.5}
    assert parsed.instructions == "Be brief."
    assert parsed.metadata == {"team": "search"}


def test_string_input_is_one_user_turn() -> None:
    chat = parse(input="Hello").chat
    assert chat.messages == [Message.user("Hello")]
    assert not chat.stream
    assert chat.tools == []
    assert chat.tool_choice is None
    assert chat.extra == {}


def test_calls_join_the_assistant_turn_and_outputs_follow() -> None:
    chat = parse(input=[
        {"role": "user", "content": "Weather in Oslo and Lima?"},
        {"type": "function_call", "call_id": "a", "name": "w", "arguments": "{}"},
        {"type": "function_call", "call_id": "b", "name": "w", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "a", "output": [{"type": "input_text", "text": "sunny"}]},
        {"type": "function_call_output", "call_id": "b", "output": "rain"},
    ]).chat
    _, assistant, first, second = chat.messages
    assert assistant.role == "assistant"
    assert assistant.content == []
    assert [c.id for c in assistant.tool_calls] == ["a", "b"]
    assert (first.tool_call_id, first.text, second.tool_call_id, second.text) == ("a", "sunny", "b", "rain")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ({"format": {"type": "text"}}, ResponseFormat(type="text")),
        ({"format": {"type": "json_object"}}, ResponseFormat(type="json_object")),
        ({"verbosity": "low"}, None),
    ],
)
def test_text_formats(text: dict[str, Any], expected: ResponseFormat | None) -> None:
    assert parse(text=text).chat.response_format == expected


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_tool_choice_modes(choice: str) -> None:
    tools = [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]
    assert parse(tool_choice=choice, tools=tools).chat.tool_choice == ToolChoice(choice)  # type: ignore[arg-type]


def test_a_forced_tool_must_be_among_the_tools() -> None:
    tools = [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]
    unknown = refusal(tools=tools, tool_choice={"type": "function", "name": "delete_all"})
    assert unknown.param == "tool_choice"
    assert unknown.message == "'tool_choice' names tool 'delete_all', which is not in 'tools'"
    assert refusal(tool_choice="required").message == "'tool_choice' forces a tool call but no 'tools' are given"


def test_original_image_detail_becomes_high() -> None:
    user = parse(input=[{"role": "user", "content": [{"type": "input_image", "image_url": PNG,
                                                      "detail": "original"}]}]).chat.messages[0]
    assert user.content == [ImagePart(PNG, "high")]


def test_hints_are_accepted_and_not_forwarded() -> None:
    parsed = parse(
        input=[
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "opaque"},
            {"role": "user", "content": "hi", "phase": "final_answer"},
        ],
        store=True,
        reasoning={"effort": "high", "summary": "auto"},
        text={"verbosity": "high"},
        service_tier="flex",
        prompt_cache_key="agent-7",
        prompt_cache_retention="24h",
        max_tool_calls=3,
        stream=True,
        stream_options={"include_obfuscation": False},
        include=["reasoning.encrypted_content"],
        truncation="disabled",
        background=False,
        safety_identifier="user-hash",
    )
    chat = parsed.chat
    assert chat.messages == [Message.user("hi")]
    assert chat.extra == {}
    assert chat.user == "user-hash"


@pytest.mark.parametrize(
    ("body", "message", "param"),
    [
        ({"previous_response_id": "resp_1"},
         "stored conversations are not supported yet; send the full input with store: false", "previous_response_id"),
        ({"conversation": "conv_1"}, "stored conversations are not supported yet", "conversation"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "item reference", "input[0]"),
        ({"input": [{"id": "msg_1"}]}, "item reference", "input[0]"),
        ({"background": True}, "background responses are not supported", "background"),
        ({"truncation": "auto"}, "'auto' is not supported", "truncation"),
        ({"include": ["message.output_text.logprobs"]}, "'message.output_text.logprobs' is not supported", "include"),
        ({"tools": [{"type": "web_search"}]}, "tool type 'web_search' is not supported", "tools[0].type"),
        ({"tools": [{"type": "file_search", "vector_store_ids": ["vs"]}]}, "tool type 'file_search'",
         "tools[0].type"),
        ({"tools": [{"type": "computer_use_preview"}]}, "tool type 'computer_use_preview'", "tools[0].type"),
        ({"tool_choice": {"type": "web_search_preview"}}, "tool_choice type 'web_search_preview'",
         "tool_choice.type"),
        ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]},
         "file_id images need OpenAI's Files API", "input[0].content[0]"),
        ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]},
         "input_file content is not supported", "input[0].content[0]"),
        ({"input": [{"role": "system", "content": [{"type": "input_image", "image_url": PNG}]}]},
         "images are only allowed in user messages", "input[0].content[0]"),
        ({"input": [{"type": "function_call_output", "call_id": "c",
                     "output": [{"type": "input_image", "image_url": PNG}]}]},
         "function_call_output carries text only", "input[0].output[0]"),
        ({"input": [{"type": "web_search_call", "id": "ws_1"}]}, "type 'web_search_call', which is not supported",
         "input[0].type"),
        ({"prompt": {"id": "pmpt_1"}}, "stored prompts are not supported", "prompt"),
        ({"top_logprobs": 2}, "logprobs are not supported", "top_logprobs"),
        ({"frequency_penalty": 1}, "unknown parameter 'frequency_penalty'", "frequency_penalty"),
        ({"input": [{"role": "user", "content": "x", "name": "ann"}]}, "unknown field `name`", "input[0]"),
        ({"input": 5}, "Expected `str | array`, got `int`", "input"),
        ({"input": []}, "'input' must not be empty", "input"),
        ({"input": ""}, "'input' must not be empty", "input"),
        ({"instructions": "x", "input": [{"role": "developer", "content": "y"}]}, "holds no message to answer",
         "input"),
        ({"temperature": 3}, "'temperature' must be between 0 and 2", "temperature"),
        ({"max_output_tokens": 0}, "'max_output_tokens' must be at least 1", "max_output_tokens"),
        ({"metadata": {"n": 1}}, "Expected `str`, got `int`", "metadata[...]"),
        ({"reasoning": {"effort": "extreme"}}, "Invalid enum value 'extreme'", "reasoning.effort"),
    ],
)
def test_refusals_name_what_is_wrong(body: dict[str, Any], message: str, param: str) -> None:
    error = refusal(**body)
    assert message in error.message
    assert error.param == param
    assert error.status_code == 400


def test_unknown_and_unsupported_parameters_have_codes() -> None:
    assert refusal(seed=1).code == "unknown_parameter"
    assert refusal(previous_response_id="resp_1").code == "unsupported_parameter"


def test_missing_input_and_bad_bodies() -> None:
    with pytest.raises(InvalidRequestError, match="'input' is required"):
        parse_responses_request(b'{"model": "gpt"}')
    with pytest.raises(InvalidRequestError, match="not valid JSON"):
        parse_responses_request(b"{")
    with pytest.raises(InvalidRequestError, match="must be a JSON object"):
        parse_responses_request(b"[]")
    with pytest.raises(InvalidRequestError, match="missing required field `model`"):
        parse_responses_request(b'{"input": "hi"}')
