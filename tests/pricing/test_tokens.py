"""The offline prompt-token estimate against the real o200k_base tokenizer, and the max-cost estimate."""

from __future__ import annotations

import statistics
from typing import Any

import pytest
import tiktoken

from switchyard.pricing import (
    DEFAULT_MAX_OUTPUT_TOKENS,
    IMAGE_TOKENS,
    IMAGE_TOKENS_LOW,
    Catalog,
    ModelInfo,
    Price,
    estimate_max_cost,
    estimate_prompt_tokens,
    estimate_text_tokens,
)
from switchyard.types import ChatRequest, ImagePart, Message, ResponseFormat, TextPart, Tool, ToolCall

MEAN_TOLERANCE = 0.08
BIAS_TOLERANCE = 0.04
"""docs/cost.md: on the full held-out half the mean error is 4.0 % per request and the bias -0.8 %."""


def request(*messages: Message, **fields: Any) -> ChatRequest:
    return ChatRequest(model="m", messages=list(messages), **fields)


def openai_count(encoding: tiktoken.Encoding, chat: ChatRequest) -> int:
    """OpenAI's accounting (the cookbook's num_tokens_from_messages) over the real tokenizer."""
    return 3 + sum(3 + len(encoding.encode_ordinary(m.role)) + len(encoding.encode_ordinary(m.text))
                   for m in chat.messages)


def test_estimates_are_within_tolerance_on_held_out_prompts(
    o200k: tiktoken.Encoding, held_out_texts: list[str]
) -> None:
    assert len(held_out_texts) >= 400
    errors = []
    for text in held_out_texts:
        chat = request(Message.user(text))
        truth = openai_count(o200k, chat)
        errors.append((estimate_prompt_tokens(chat) - truth) / truth)
    assert statistics.fmean(abs(e) for e in errors) <= MEAN_TOLERANCE
    assert abs(statistics.fmean(errors)) <= BIAS_TOLERANCE


def test_a_conversation_costs_its_messages_plus_per_message_overhead(o200k: tiktoken.Encoding) -> None:
    turns = [Message.system("You are terse."), Message.user("What is 17 * 23?"), Message.assistant("391"),
             Message.user("And 391 / 17?")]
    chat = request(*turns)
    assert estimate_prompt_tokens(chat) == 3 + sum(4 + estimate_text_tokens(m.text) for m in turns)
    assert abs(estimate_prompt_tokens(chat) - openai_count(o200k, chat)) <= 4


def test_empty_text_costs_nothing_and_any_text_at_least_one_token() -> None:
    assert estimate_text_tokens("") == 0
    assert estimate_text_tokens("a") == 1


def test_images_cost_a_typical_fixed_amount() -> None:
    text_only = request(Message.user("Describe this."))
    base = estimate_prompt_tokens(text_only)
    high = request(Message(role="user", content=[TextPart("Describe this."), ImagePart("https://x.test/a.png")]))
    low = request(Message(role="user", content=[TextPart("Describe this."),
                                                ImagePart("https://x.test/a.png", detail="low")]))
    assert estimate_prompt_tokens(high) == base + IMAGE_TOKENS
    assert estimate_prompt_tokens(low) == base + IMAGE_TOKENS_LOW


def test_tools_tool_calls_and_schemas_add_tokens() -> None:
    question = Message.user("Weather in Paris?")
    base = estimate_prompt_tokens(request(question))
    weather = Tool(
        name="get_weather",
        description="Current weather for a city.",
        parameters={"type": "object", "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        }},
    )
    with_tool = estimate_prompt_tokens(request(question, tools=[weather]))
    with_two = estimate_prompt_tokens(request(question, tools=[weather, Tool(name="noop")]))
    assert base < with_tool < with_two
    call = Message(role="assistant", tool_calls=[ToolCall("call_1", "get_weather", '{"city": "Paris"}')])
    answer = Message(role="tool", tool_call_id="call_1", content=[TextPart('{"temp_c": 21}')])
    assert estimate_prompt_tokens(request(question, call, answer)) > base + 2 * 4
    schema = ResponseFormat(type="json_schema", name="w", schema={"type": "object", "properties": {
        "temp": {"type": "number"}}})
    assert estimate_prompt_tokens(request(question, response_format=schema)) > base


def test_estimating_is_cheap_enough_for_every_request() -> None:
    # A loose guard against an accidental tokenizer or quadratic loop; bench/tokens.py measures ~2 µs.
    import time

    chat = request(Message.system("You are a helpful assistant."), Message.user("Summarise: " + "lorem ipsum " * 200))
    start = time.perf_counter()
    for _ in range(1_000):
        estimate_prompt_tokens(chat)
    assert (time.perf_counter() - start) / 1_000 < 0.0005


MODEL = ModelInfo(price=Price(2.0, 8.0, 0.5), context_window=128_000, max_output_tokens=16_000)


def test_max_cost_prices_the_prompt_and_the_most_output_the_request_allows() -> None:
    chat = request(Message.user("Write a haiku about routers."), max_tokens=100)
    prompt = estimate_prompt_tokens(chat)
    assert estimate_max_cost(MODEL, chat) == pytest.approx((prompt * 2.0 + 100 * 8.0) / 1e6)


def test_max_cost_falls_back_to_the_model_maximum_then_the_default() -> None:
    chat = request(Message.user("Write a haiku about routers."))
    prompt = estimate_prompt_tokens(chat)
    assert estimate_max_cost(MODEL, chat) == pytest.approx((prompt * 2.0 + 16_000 * 8.0) / 1e6)
    no_max = ModelInfo(price=Price(2.0, 8.0), context_window=None, max_output_tokens=None)
    assert estimate_max_cost(no_max, chat) == pytest.approx((prompt * 2.0 + DEFAULT_MAX_OUTPUT_TOKENS * 8.0) / 1e6)
    assert estimate_max_cost(no_max, chat, default_max_output=10) == pytest.approx((prompt * 2.0 + 10 * 8.0) / 1e6)


def test_max_cost_caps_max_tokens_at_the_model_maximum_and_counts_every_choice() -> None:
    chat = request(Message.user("Hi"), max_tokens=1_000_000, n=3)
    prompt = estimate_prompt_tokens(chat)
    assert estimate_max_cost(MODEL, chat) == pytest.approx((prompt * 2.0 + 3 * 16_000 * 8.0) / 1e6)


def test_max_cost_is_unknown_without_a_price_and_zero_for_local_models() -> None:
    chat = request(Message.user("Hi"), max_tokens=10)
    assert estimate_max_cost(ModelInfo(price=None, context_window=None, max_output_tokens=None), chat) is None
    local = Catalog.bundled().lookup("ollama", "llama3.2")
    assert local is not None
    assert estimate_max_cost(local, chat) == 0.0


def test_max_cost_uses_the_long_context_tier_for_long_prompts() -> None:
    info = Catalog.bundled().lookup("gemini", "gemini-2.5-pro")
    assert info is not None
    assert info.price is not None
    assert info.price.long_context is not None
    tier = info.price.long_context
    chat = request(Message.user("word " * 250_000), max_tokens=10)
    prompt = estimate_prompt_tokens(chat)
    assert prompt > tier.above_tokens
    expected = prompt * tier.input_per_mtok + 10 * tier.output_per_mtok
    assert estimate_max_cost(info, chat) == pytest.approx(expected / 1e6)
