"""``langchain-anthropic``'s ``ChatAnthropic``, unchanged but for ``base_url``, against the gateway's /v1/messages,
with models that are not Anthropic's: an OpenAI deployment and a route."""

from __future__ import annotations

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import SecretStr
from tests.conftest import LiveStack

UPSTREAM = {"gpt": "gpt-4o-mini", "chain": "gpt-flaky"}


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


def chat(live: LiveStack, model: str) -> ChatAnthropic:
    return ChatAnthropic(  # type: ignore[call-arg]
        model=model, base_url=live.gateway_url, api_key=SecretStr("unused"), max_tokens=256, temperature=0.2,
        max_retries=0, timeout=10,
    )


def joined(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    """The chunks of one streamed answer added up, as LangChain does."""
    assert chunks
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    whole = chunks[0]
    for c in chunks[1:]:
        whole = whole + c
    return whole


@pytest.mark.parametrize("model", ["gpt", "chain"])
def test_invoke(live: LiveStack, model: str) -> None:
    answer = chat(live, model).invoke([SystemMessage("Be brief."), HumanMessage("Hello gateway")])
    assert isinstance(answer, AIMessage)
    assert answer.content == f"{UPSTREAM[model]} says: Hello gateway"
    assert answer.response_metadata["stop_reason"] == "end_turn"
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["input_tokens"] > 0
    assert answer.usage_metadata["output_tokens"] > 0


@pytest.mark.parametrize("model", ["gpt", "chain"])
def test_stream(live: LiveStack, model: str) -> None:
    chunks = list(chat(live, model).stream("Stream me a sentence please"))
    assert len(chunks) > 2
    whole = joined(chunks)
    assert whole.text == f"{UPSTREAM[model]} says: Stream me a sentence please"
    assert whole.usage_metadata is not None
    assert whole.usage_metadata["output_tokens"] > 0


def test_bind_tools_and_answer_the_call(live: LiveStack) -> None:
    model = chat(live, "gpt").bind_tools([get_weather])
    question = HumanMessage("What is the weather in Oslo?")
    first = model.invoke([question])
    assert isinstance(first, AIMessage)
    assert [(c["name"], c["args"]) for c in first.tool_calls] == [("get_weather", {"city": "sample city"})]
    call = first.tool_calls[0]
    result = ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])
    second = model.invoke([question, first, result])
    assert isinstance(second, AIMessage)
    assert second.content == "The tool returned: sunny in sample city"
    assert second.tool_calls == []


def test_streamed_tool_call(live: LiveStack) -> None:
    model = chat(live, "chain").bind_tools([get_weather], tool_choice="get_weather")
    whole = joined(list(model.stream("Weather in Lima?")))  # type: ignore[arg-type]
    assert [(c["name"], c["args"]) for c in whole.tool_calls] == [("get_weather", {"city": "sample city"})]


def test_token_counting_uses_count_tokens(live: LiveStack) -> None:
    model = chat(live, "gpt")
    short = model.get_num_tokens_from_messages([HumanMessage("Hi")])
    long = model.get_num_tokens_from_messages(
        [SystemMessage("You are careful."), HumanMessage("What is the weather like in Oslo this week?")],
        tools=[get_weather],
    )
    assert 0 < short < long
