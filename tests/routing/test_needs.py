"""What a request demands: features, tokens, tags (from the header, the body's metadata, and the rules)."""

from __future__ import annotations

import pytest

from switchyard import ChatRequest, InvalidRequestError, Message, ResponseFormat, Tool, ToolChoice
from switchyard.pricing import estimate_prompt_tokens
from switchyard.routing.needs import Needs, parse_tags, take_tags


def request(**fields: object) -> ChatRequest:
    return ChatRequest(model="m", messages=[Message.user("hi")], **fields)  # type: ignore[arg-type]


def test_features_come_from_what_the_request_uses() -> None:
    assert Needs(request(), {}).features == frozenset()
    tool = Tool(name="lookup")
    assert Needs(request(tools=[tool]), {}).features == {"tools"}
    # Tools offered but switched off are not used.
    assert Needs(request(tools=[tool], tool_choice=ToolChoice("none")), {}).features == frozenset()
    schema = ResponseFormat(type="json_schema", name="s", schema={"type": "object"})
    assert Needs(request(response_format=schema, stream=True), {}).features == {"json_schema", "streaming"}
    assert Needs(request(response_format=ResponseFormat(type="json_object")), {}).features == frozenset()
    pictured = ChatRequest(model="m", messages=[Message.user("hi", "data:image/png;base64,AAAA")])
    assert Needs(pictured, {}).features == {"vision"}


def test_tokens_are_the_prompt_estimate_plus_the_answer_allowed() -> None:
    req = request(max_tokens=500)
    needs = Needs(req, {})
    assert needs.prompt_tokens == estimate_prompt_tokens(req)
    assert needs.tokens == needs.prompt_tokens + 500


def test_tag_rules_map_request_tags_to_deployment_tags() -> None:
    rules = {"private": ["local", "on-prem"], "audit": []}
    assert Needs(request(tags=["private", "audit", "eu"]), rules).tags == {"local", "on-prem", "eu"}


def test_parse_tags_accepts_comma_strings_and_lists() -> None:
    assert parse_tags(" a, b ,,c") == ["a", "b", "c"]
    assert parse_tags(["x", " y "]) == ["x", "y"]
    with pytest.raises(InvalidRequestError, match="tags must be strings"):
        parse_tags(["x", 3])


def test_metadata_tags_move_onto_the_request_and_never_reach_the_provider() -> None:
    req = request(tags=["from-header"], extra={"metadata": {"tags": ["private"], "trace": "t1"}})
    take_tags(req)
    assert req.tags == ["from-header", "private"]
    assert req.extra == {"metadata": {"trace": "t1"}}
    only_tags = request(extra={"metadata": {"tags": "a,b"}})
    take_tags(only_tags)
    assert (only_tags.tags, only_tags.extra) == (["a", "b"], {})
    with pytest.raises(InvalidRequestError, match=r"metadata\.tags must be"):
        take_tags(request(extra={"metadata": {"tags": 5}}))


@pytest.mark.parametrize(
    "text",
    ["\n" * 500, "1234567890" * 50, ".,;:!?()[]{}" * 40, "a b c d e " * 100, "日本語のテキスト" * 60, "x", ""],
)
def test_the_cheap_ceiling_never_undercounts_the_estimate(text: str) -> None:
    # The window filter skips the estimate when the ceiling fits: an undercount would let a too-long prompt through.
    req = ChatRequest(model="m", messages=[Message.system(text), Message.user(text, "https://x/y.png")],
                      max_tokens=7)
    needs = Needs(req, {})
    assert needs.token_ceiling >= needs.tokens
