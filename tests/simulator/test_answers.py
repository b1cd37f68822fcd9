"""The simulator's opt-in arithmetic answers (``Faults.accuracy``): what it solves, how often it is right, that
runs repeat, and that it reaches clients through every provider's wire format."""

from __future__ import annotations

import aiohttp
import pytest

from switchyard.simulator import Faults, Simulator
from switchyard.simulator.answers import answer, solve
from switchyard.simulator.reply import Prompt, reply


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("What is 17 * 23? Reply with the number only.", 391.0),
        ("Compute 125 \u00d7 8.", 1000.0),
        ("What is 144 \u00f7 12?", 12.0),
        ("What is ((6 + 4) * (9 - 4)) / 2?", 25.0),
        ("What is 2 + 3 * 4?", 14.0),
        ("What is 7 / 2?", 3.5),
        ("Divide 5 / 0 please", None),
        ("What is the capital of France?", None),
        ("Call me at 555 1234", None),
    ],
)
def test_solve(text: str, value: float | None) -> None:
    assert solve(text) == value


def test_accuracy_sets_the_share_of_right_answers_and_is_repeatable() -> None:
    questions = [f"What is {a} + {a * 3}?" for a in range(1, 401)]
    right = {q: str(int(solve(q) or 0)) for q in questions}
    for accuracy in (0.0, 0.3, 0.8, 1.0):
        answers = [answer("model-a", q, accuracy) for q in questions]
        share = sum(a == right[q] for a, q in zip(answers, questions, strict=True)) / len(questions)
        assert abs(share - accuracy) < 0.07
        assert answers == [answer("model-a", q, accuracy) for q in questions]
    # Which questions a model misses depends on the model, not only on the accuracy.
    a = [answer("model-a", q, 0.5) == right[q] for q in questions]
    b = [answer("model-b", q, 0.5) == right[q] for q in questions]
    assert a != b
    assert all(answer("m", q, 0.0) != right[q] for q in questions)


def test_reply_answers_only_with_an_accuracy_and_only_plain_turns() -> None:
    prompt = Prompt(model="m", last_user_text="What is 6 * 7?", all_text="What is 6 * 7?")
    assert reply(prompt).text == "m says: What is 6 * 7?"
    assert reply(prompt, accuracy=1.0).text == str(6 * 7)
    assert reply(Prompt(model="m", last_user_text="Hello", all_text="Hello"), accuracy=1.0).text == "m says: Hello"
    json_prompt = Prompt(model="m", last_user_text="What is 6 * 7?", all_text="x", json_mode=True)
    assert reply(json_prompt, accuracy=1.0).text.startswith("{")


async def test_accuracy_reaches_clients_per_scope() -> None:
    async with Simulator() as sim, aiohttp.ClientSession() as session:
        sim.set_faults("openai:gpt-smart", {"accuracy": 1.0})
        sim.set_faults("anthropic", Faults(accuracy=1.0))

        async def openai(model: str) -> str:
            body = {"model": model, "messages": [{"role": "user", "content": "What is 12 * 12?"}]}
            async with session.post(f"{sim.base_url}/v1/chat/completions", json=body,
                                    headers={"authorization": "Bearer sk-test"}) as response:
                data = await response.json()
            return str(data["choices"][0]["message"]["content"])

        assert await openai("gpt-smart") == "144"
        assert await openai("gpt-plain") == "gpt-plain says: What is 12 * 12?"
        body = {"model": "claude-x", "max_tokens": 50, "messages": [{"role": "user", "content": "What is 12 * 12?"}]}
        headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
        async with session.post(f"{sim.base_url}/v1/messages", json=body, headers=headers) as response:
            data = await response.json()
        assert data["content"][0]["text"] == "144"
