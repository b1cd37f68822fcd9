"""A policy applied to a request: every role's text, tool-call arguments and tool results (JSON kept valid), the
caller's request untouched; and which policy a request gets."""

from __future__ import annotations

import copy

import orjson

from switchyard import parse_config
from switchyard.redaction import CustomPattern, Policies, Policy, RedactionConfig
from switchyard.types import ChatRequest, ImagePart, Message, TextPart, ToolCall
from tests.conftest import sim_config


def conversation() -> ChatRequest:
    return ChatRequest(
        model="gpt",
        messages=[
            Message.system("Support agent. Escalations go to ops@example.com."),
            Message.user("I am jo@example.com, call +44 20 7946 0958.", "https://img.example/x.png"),
            Message(role="assistant", tool_calls=[
                ToolCall("c1", "lookup", '{"email": "jo@example.com", "note": "line\\nbreak", "n": 12}'),
            ]),
            Message(role="tool", tool_call_id="c1", content=[TextPart('{"card": "4111 1111 1111 1111", "ok": true}')]),
            Message(role="tool", tool_call_id="c2", content=[TextPart("plain text from 10.0.0.7")]),
            Message.assistant("Thanks, noted."),
        ],
    )


def test_every_role_and_tool_payload_is_redacted_with_stable_placeholders() -> None:
    request = conversation()
    before = copy.deepcopy(request)
    redacted, vault = Policy(RedactionConfig()).redact(request)
    system, user, call, result, plain, answer = redacted.messages
    assert system.text == "Support agent. Escalations go to <EMAIL_1>."
    assert user.text == "I am <EMAIL_2>, call <PHONE_1>."
    assert isinstance(user.content[1], ImagePart)
    arguments = orjson.loads(call.tool_calls[0].arguments)
    assert arguments == {"email": "<EMAIL_2>", "note": "line\nbreak", "n": 12}
    assert orjson.loads(result.text) == {"card": "<CARD_1>", "ok": True}
    assert plain.text == "plain text from <IP_1>"
    assert vault.count == 6
    # The caller's request is untouched, and a message with nothing to redact is shared, not copied.
    assert request == before
    assert answer is request.messages[5]


def test_placeholders_the_client_wrote_are_never_issued() -> None:
    # A mail-merge template holds "<EMAIL_1>" literally: the address must get another number, or the model reads
    # two things as one and restoring puts the address into the template.
    template = 'Fill in "Dear <EMAIL_1>, ..." and send a copy to jo@example.com.'
    request = ChatRequest(model="gpt", messages=[Message.user(template)])
    redacted, vault = Policy(RedactionConfig()).redact(request)
    assert redacted.messages[0].text == 'Fill in "Dear <EMAIL_1>, ..." and send a copy to <EMAIL_2>.'
    assert vault.restore_text("Dear <EMAIL_1>, (copy to <EMAIL_2>)") == "Dear <EMAIL_1>, (copy to jo@example.com)"


def test_without_restoring_placeholders_an_answer_showed_are_issued_again() -> None:
    # restore: false: the client saw <EMAIL_1> in the last answer and sends it back with the address again.
    request = ChatRequest(model="gpt", messages=[
        Message.user("I am jo@example.com."),
        Message.assistant("Noted, <EMAIL_1>."),
        Message.user("Mail jo@example.com."),
    ])
    redacted, _ = Policy(RedactionConfig(restore=False)).redact(request)
    assert [m.text for m in redacted.messages] == ["I am <EMAIL_1>.", "Noted, <EMAIL_1>.", "Mail <EMAIL_1>."]


def test_nothing_to_redact_returns_the_same_request() -> None:
    request = ChatRequest(model="gpt", messages=[Message.user("What is a switchyard?")])
    redacted, vault = Policy(RedactionConfig()).redact(request)
    assert redacted is request
    assert vault.count == 0


def test_json_that_does_not_parse_is_redacted_as_text() -> None:
    policy = Policy(RedactionConfig())
    vault = policy.redact(ChatRequest(model="m", messages=[]))[1]
    assert policy.json_text('{"broken": "jo@example.com"', vault) == '{"broken": "<EMAIL_1>"'


def test_json_with_big_integers_survives() -> None:
    policy = Policy(RedactionConfig())
    vault = policy.redact(ChatRequest(model="m", messages=[]))[1]
    out = policy.json_text('{"id": 123456789012345678901234567890, "to": "jo@example.com"}', vault)
    assert orjson.loads(out.replace("123456789012345678901234567890", "1")) == {"id": 1, "to": "<EMAIL_1>"}
    assert "123456789012345678901234567890" in out


def test_only_configured_kinds_and_custom_patterns() -> None:
    policy = Policy(RedactionConfig(entities=["email"], custom=[CustomPattern(name="acct", pattern=r"ACCT-\d+")]))
    request = ChatRequest(model="m", messages=[Message.user("jo@example.com ACCT-42 +44 20 7946 0958")])
    assert policy.redact(request)[0].messages[0].text == "<EMAIL_1> <ACCT_1> +44 20 7946 0958"


def test_routes_override_the_global_policy_and_deployments_get_the_global_one() -> None:
    config = parse_config(sim_config("http://127.0.0.1:1", redaction={"entities": ["email"]}, routes={
        "private": {"targets": ["gpt"], "redaction": {"entities": ["phone"], "restore": False}},
        "open": {"targets": ["gpt"], "redaction": {"enabled": False}},
        "plain": {"targets": ["gpt"]},
    }))
    policies = Policies.from_config(config)
    assert policies is not None
    text = ChatRequest(model="", messages=[Message.user("jo@example.com +44 20 7946 0958")])
    for model, expected, restore in (
        ("gpt", "<EMAIL_1> +44 20 7946 0958", True),
        ("plain", "<EMAIL_1> +44 20 7946 0958", True),
        ("private", "jo@example.com <PHONE_1>", False),
    ):
        policy = policies.get(model)
        assert policy is not None
        redacted, vault = policy.redact(text)
        assert (redacted.messages[0].text, vault.restore) == (expected, restore)
    assert policies.get("open") is None


def test_off_everywhere_is_none() -> None:
    assert Policies.from_config(parse_config(sim_config("http://127.0.0.1:1"))) is None
    only_route = parse_config(sim_config("http://127.0.0.1:1", routes={"r": {"targets": ["gpt"], "redaction": {}}}))
    policies = Policies.from_config(only_route)
    assert policies is not None
    assert policies.get("gpt") is None
    assert policies.get("r") is not None
