"""``langchain-openai``'s ``ChatOpenAI`` pointed at a running gateway by ``base_url`` only: invoke, stream and tool
binding work unchanged, whichever provider the model named is behind."""

from __future__ import annotations

from functools import reduce
from operator import add

import pytest
from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from tests.conftest import LiveStack

MODELS = ["gpt", "azure-gpt", "claude", "gemini"]


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


def chat(live: LiveStack, model: str, **options: object) -> ChatOpenAI:
    return ChatOpenAI(
        model=model, base_url=f"{live.gateway_url}/v1", api_key="unused",  # type: ignore[arg-type]
        max_retries=0, timeout=10, **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("model", MODELS)
def test_invoke(live: LiveStack, model: str) -> None:
    answer = chat(live, model).invoke("Hello there")
    assert isinstance(answer.content, str)
    assert answer.content.endswith("says: Hello there")
    assert answer.response_metadata["model_name"] == model
    assert answer.response_metadata["finish_reason"] == "stop"
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["input_tokens"] > 0
    assert answer.usage_metadata["output_tokens"] > 0


@pytest.mark.parametrize("model", MODELS)
def test_stream_accumulates_to_the_answer(live: LiveStack, model: str) -> None:
    llm = chat(live, model, stream_usage=True)
    prompt = "Tell me something nice about the sea today"
    chunks = list(llm.stream(prompt))
    assert len(chunks) > 2
    whole = reduce(add, chunks)
    assert isinstance(whole, AIMessageChunk)
    assert whole.content == llm.invoke(prompt).content
    assert isinstance(whole.content, str)
    assert whole.content.endswith(f"says: {prompt}")
    assert whole.usage_metadata is not None
    assert whole.usage_metadata["input_tokens"] > 0


@pytest.mark.parametrize("model", MODELS)
def test_bind_tools_round_trip(live: LiveStack, model: str) -> None:
    llm = chat(live, model).bind_tools([get_weather])
    messages: list[BaseMessage] = [HumanMessage("What is the weather in Oslo?")]
    first = llm.invoke(messages)
    assert len(first.tool_calls) == 1
    call = first.tool_calls[0]
    assert call["name"] == "get_weather"
    assert call["args"] == {"city": "sample city"}
    assert call["id"]
    messages += [first, ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])]
    second = llm.invoke(messages)
    assert second.content == "The tool returned: sunny in sample city"
    assert not second.tool_calls


@pytest.mark.parametrize("model", MODELS)
def test_streamed_tool_call(live: LiveStack, model: str) -> None:
    llm = chat(live, model).bind_tools([get_weather], tool_choice="get_weather")
    whole = reduce(add, llm.stream("Weather in Lima?"))
    assert isinstance(whole, AIMessageChunk)
    assert [(c["name"], c["args"]) for c in whole.tool_calls] == [("get_weather", {"city": "sample city"})]


def test_route_with_fallback(live: LiveStack) -> None:
    # "chain" starts with a dead deployment: the client sees one answer, not the failure.
    answer = chat(live, "chain").invoke("Hi")
    assert isinstance(answer.content, str)
    assert answer.content.endswith("says: Hi")
