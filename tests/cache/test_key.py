"""The exact-cache key: everything that affects the answer changes it; nothing else does."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from switchyard.cache.key import NEUTRAL_FIELDS, context_digest, exact_digest, last_user_text
from switchyard.types import (
    ChatRequest,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)

NS = b"key:k1"


def base(**changes: Any) -> ChatRequest:
    request = ChatRequest(
        model="fast",
        messages=[Message.system("You are terse."), Message.user("What is a switchyard?")],
        tools=[Tool(name="lookup", parameters={"type": "object", "properties": {"q": {"type": "string"}}})],
        temperature=0.2,
    )
    return msgspec.structs.replace(request, **changes)


# One different value for every field that affects the answer. The test below checks the list is complete, so a
# field added to ChatRequest later must be added here (and so is in the key) or declared neutral.
ANSWER_CHANGES: dict[str, Any] = {
    "model": "slow",
    "messages": [Message.system("You are verbose."), Message.user("What is a switchyard?")],
    "tools": [],
    "tool_choice": ToolChoice("required"),
    "parallel_tool_calls": False,
    "response_format": ResponseFormat(type="json_object"),
    "temperature": 0.3,
    "top_p": 0.9,
    "max_tokens": 100,
    "stop": ["\n"],
    "seed": 7,
    "n": 2,
    "presence_penalty": 0.5,
    "frequency_penalty": 0.5,
    "logprobs": True,
    "top_logprobs": 3,
    "logit_bias": {"50256": -100.0},
    "extra": {"reasoning_effort": "high"},
    "tags": ["eu"],
}

NEUTRAL_CHANGES: dict[str, Any] = {"user": "alice", "stream": True, "include_usage": True, "session": "s-1"}


def test_every_request_field_is_either_in_the_key_or_declared_neutral() -> None:
    assert set(ANSWER_CHANGES) | set(NEUTRAL_CHANGES) == set(ChatRequest.__struct_fields__)
    assert set(NEUTRAL_CHANGES) == NEUTRAL_FIELDS


@pytest.mark.parametrize(("field", "value"), ANSWER_CHANGES.items(), ids=list(ANSWER_CHANGES))
def test_a_field_that_affects_the_answer_changes_the_key(field: str, value: Any) -> None:
    assert exact_digest(base(**{field: value}), NS) != exact_digest(base(), NS)


@pytest.mark.parametrize(("field", "value"), NEUTRAL_CHANGES.items(), ids=list(NEUTRAL_CHANGES))
def test_attribution_transport_and_affinity_do_not_change_the_key(field: str, value: Any) -> None:
    assert exact_digest(base(**{field: value}), NS) == exact_digest(base(), NS)


def test_every_message_detail_is_part_of_the_key() -> None:
    plain = base()
    variants = [
        [Message.system("You are terse."), Message.user("What is a switchyard ?")],  # one character
        [Message.user("What is a switchyard?")],  # no system prompt
        [Message.system("You are terse."), Message.user("What is a switchyard?", "https://x/y.png")],  # an image
        [Message.system("You are terse."), Message(role="user", content=[TextPart("What is a switchyard?")],
                                                   name="bob")],
        [Message.system("You are terse."), Message.user("Hi"), Message.assistant("Hello"),
         Message.user("What is a switchyard?")],  # an earlier turn
    ]
    digests = {exact_digest(base(messages=m), NS) for m in variants}
    assert len(digests) == len(variants)
    assert exact_digest(plain, NS) not in digests


def test_json_key_order_does_not_change_the_key() -> None:
    schema_a = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}
    schema_b = {"properties": {"b": {"type": "integer"}, "a": {"type": "string"}}, "type": "object"}
    a = base(tools=[Tool(name="t", parameters=schema_a)], extra={"x": 1, "y": 2})
    b = base(tools=[Tool(name="t", parameters=schema_b)], extra={"y": 2, "x": 1})
    assert exact_digest(a, NS) == exact_digest(b, NS)


def test_passthrough_labels_do_not_change_the_key_but_other_extras_do() -> None:
    labelled = base(extra={"metadata": {"trace": "abc"}, "store": True, "service_tier": "flex"})
    assert exact_digest(labelled, NS) == exact_digest(base(), NS)
    assert exact_digest(base(extra={"metadata": {"t": 1}, "verbosity": "low"}), NS) != exact_digest(base(), NS)


def test_the_namespace_is_part_of_the_key() -> None:
    assert exact_digest(base(), b"key:k1") != exact_digest(base(), b"key:k2")
    # Length-prefixed parts: a namespace cannot be extended into the request's bytes to forge a match.
    assert exact_digest(base(), b"key:k1") != exact_digest(base(), b"key:k1/")


def test_the_context_excludes_only_the_last_user_turn() -> None:
    a = base()
    b = base(messages=[Message.system("You are terse."), Message.user("Explain what a switchyard is.")])
    other_system = base(messages=[Message.system("You are loud."), Message.user("What is a switchyard?")])
    assert context_digest(a, NS) == context_digest(b, NS)
    assert context_digest(a, NS) != context_digest(other_system, NS)
    assert context_digest(a, NS) != context_digest(base(temperature=0.9), NS)
    assert context_digest(a, NS) != exact_digest(a, NS)
    assert last_user_text(b) == "Explain what a switchyard is."


def test_no_context_without_a_closing_user_turn() -> None:
    tool_turn = base(messages=[
        Message.user("Weather?"),
        Message(role="assistant", tool_calls=[ToolCall("c1", "weather", "{}")]),
        Message(role="tool", tool_call_id="c1", content=[TextPart("sunny")]),
    ])
    assert context_digest(tool_turn, NS) is None
    assert last_user_text(tool_turn) is None
    with_image = base(messages=[Message(role="user", content=[TextPart("this?"), ImagePart("https://x/y.png")])])
    assert last_user_text(with_image) is None
