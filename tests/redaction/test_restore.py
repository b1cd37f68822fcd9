"""Restoring answers: a whole response (rebuilt, never changed in place), and streamed pieces with placeholders
split at every possible boundary."""

from __future__ import annotations

import copy

import orjson
import pytest

from switchyard.redaction import StreamRestorer, Vault, restore_response
from switchyard.types import ChatResponse, Choice, Message, ToolCall


def vault_with(*items: tuple[str, str]) -> Vault:
    vault = Vault()
    for label, value in items:
        vault.placeholder(label, value)
    return vault


VAULT = vault_with(("EMAIL", "jo@example.com"), ("PHONE", "+44 20 7946 0958"), ("EMAIL", 'quote"d@example.com'))
ANSWER = "Write to <EMAIL_1> or call <PHONE_1>; <EMAIL_2> is cc. <b>Bold</b> and a < b and <EMAIL_9> stay."
RESTORED = (
    'Write to jo@example.com or call +44 20 7946 0958; quote"d@example.com is cc. <b>Bold</b> and a < b and '
    "<EMAIL_9> stay."
)


def test_a_response_is_rebuilt_with_originals_in_text_and_tool_arguments() -> None:
    response = ChatResponse(id="r", model="m", choices=[
        Choice(index=0, message=Message.assistant(ANSWER), finish_reason="stop"),
        Choice(index=1, message=Message(role="assistant", tool_calls=[
            ToolCall("c", "send", '{"to": "<EMAIL_2>", "cc": ["<EMAIL_1>"]}')
        ]), finish_reason="tool_calls"),
    ])
    before = copy.deepcopy(response)
    restored = restore_response(response, VAULT)
    assert restored.choices[0].message.text == RESTORED
    assert orjson.loads(restored.choices[1].message.tool_calls[0].arguments) == {
        "to": 'quote"d@example.com', "cc": ["jo@example.com"]
    }
    assert response == before  # the cache may still hold this one
    assert restored.choices[1].finish_reason == "tool_calls"


def stream(pieces: list[str], vault: Vault = VAULT, *, json: bool = False) -> tuple[list[str], str]:
    restorer = StreamRestorer(vault)
    sent = [restorer.feed((0, -1), piece, json=json) for piece in pieces]
    return sent, "".join(sent) + restorer.flush((0, -1))


@pytest.mark.parametrize("cut", range(1, len(ANSWER)))
def test_every_split_in_two_restores_the_same_text(cut: int) -> None:
    _, text = stream([ANSWER[:cut], ANSWER[cut:]])
    assert text == RESTORED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_small_chunks_restore_the_same_text_and_hold_back_little(size: int) -> None:
    restorer = StreamRestorer(VAULT)
    sent = ""
    for i in range(0, len(ANSWER), size):
        sent += restorer.feed((0, -1), ANSWER[i : i + size])
        # What went out is always right, and what is held is only ever the start of a placeholder.
        assert RESTORED.startswith(sent)
        held = restorer.flush((0, -1))
        assert held == "" or VAULT.could_start(held)
        if held:
            restorer.feed((0, -1), held)
    assert sent + restorer.flush((0, -1)) == RESTORED


def test_only_a_possible_placeholder_prefix_is_held_and_released_on_the_next_chunk() -> None:
    restorer = StreamRestorer(VAULT)
    assert restorer.feed((0, -1), "mail <EM") == "mail "
    assert restorer.feed((0, -1), "AIL_1> now") == "jo@example.com now"
    assert restorer.feed((0, -1), "a <EMAIL_") == "a "
    assert restorer.feed((0, -1), "X> b") == "<EMAIL_X> b"  # looked like one, was not: released as it was
    assert restorer.feed((0, -1), "x <b") == "x <b"  # no placeholder starts "<b": never held
    assert restorer.feed((0, -1), "tail <PHO") == "tail "
    assert restorer.held() == [(0, -1)]
    assert restorer.flush((0, -1)) == "<PHO"  # the stream ended: out as it was
    assert restorer.held() == []


def test_keys_are_independent() -> None:
    restorer = StreamRestorer(VAULT)
    assert restorer.feed((0, -1), "a <EMA") == "a "
    assert restorer.feed((1, -1), "IL_1>") == "IL_1>"
    assert restorer.feed((0, -1), "IL_1>") == "jo@example.com"


@pytest.mark.parametrize("cut", range(1, 40))
def test_streamed_tool_arguments_stay_valid_json(cut: int) -> None:
    arguments = '{"to": "<EMAIL_2>", "cc": "<EMAIL_1>"}'
    _, text = stream([arguments[:cut], arguments[cut:]], json=True)
    assert orjson.loads(text) == {"to": 'quote"d@example.com', "cc": "jo@example.com"}
