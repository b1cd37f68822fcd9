"""Per-target prompt variants: applied to what one deployment is sent, checked at the simulator's end."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tests.routing.helpers import ask, config

from switchyard import ChatRequest, Gateway, Message, parse_config
from switchyard.routing.prompts import apply_variant
from switchyard.routing.spec import PromptVariant
from switchyard.simulator import Simulator
from switchyard.simulator.reply import estimate_tokens

PREFIX = "Answer in the house style: " + "concise, cited, calm. " * 18
SYSTEM = "You are the replacement system prompt. " * 10


def test_system_replaces_every_system_message() -> None:
    request = ChatRequest(model="r", messages=[Message.system("one"), Message.user("hi"), Message.system("two")])
    changed = apply_variant(PromptVariant(system="only"), request)
    assert [(m.role, m.text) for m in changed.messages] == [("system", "only"), ("user", "hi")]
    assert [m.text for m in request.messages] == ["one", "hi", "two"]  # the caller's request is untouched


def test_system_prefix_goes_before_the_system_prompt_or_becomes_it() -> None:
    request = ChatRequest(model="r", messages=[Message.system("Be brief."), Message.user("hi")])
    changed = apply_variant(PromptVariant(system_prefix="House rules."), request)
    assert [m.text for m in changed.messages] == ["House rules.\n\nBe brief.", "hi"]
    bare = apply_variant(PromptVariant(system_prefix="House rules."), ask("r", "hi"))
    assert [(m.role, m.text) for m in bare.messages] == [("system", "House rules."), ("user", "hi")]


@pytest.fixture
async def gw(sim: Simulator) -> AsyncIterator[Gateway]:
    routes = {
        "styled": {"targets": ["mini"], "fallbacks": ["nano"], "prompts": {"mini": {"system_prefix": PREFIX}}},
        "replaced": {"targets": ["sonnet"], "prompts": {"sonnet": {"system": SYSTEM}}},
    }
    resilience = {"retry": {"max_attempts": 2}}
    async with Gateway(parse_config(config(routes, base_url=sim.base_url, resilience=resilience), env={})) as g:
        yield g


async def input_tokens(gw: Gateway, request: ChatRequest) -> tuple[str, int]:
    response = await gw.chat(request)
    assert response.meta is not None
    assert response.usage is not None
    return response.meta.deployment, response.usage.input_tokens


async def test_the_variant_reaches_its_target_only(gw: Gateway, sim: Simulator) -> None:
    # The simulator counts a prompt's tokens from all the text it received, so what the upstream saw shows there.
    assert await input_tokens(gw, ask("mini")) == ("mini", estimate_tokens("hello there"))
    assert await input_tokens(gw, ask("styled")) == ("mini", estimate_tokens(f"{PREFIX}\nhello there"))
    with_system = ChatRequest(model="styled", messages=[Message.system("Be brief."), Message.user("hello there")])
    assert await input_tokens(gw, with_system) == ("mini", estimate_tokens(f"{PREFIX}\n\nBe brief.\nhello there"))
    # Fallen back to nano, which has no variant: it gets the request as the client sent it.
    sim.set_faults("openai:gpt-4o-mini", {"error_rate": 1.0, "error_status": 503})
    assert await input_tokens(gw, ask("styled")) == ("nano", estimate_tokens("hello there"))


async def test_a_replaced_system_prompt_reaches_anthropic(gw: Gateway) -> None:
    request = ChatRequest(model="replaced", messages=[Message.system("original " * 50), Message.user("hello there")])
    assert await input_tokens(gw, request) == ("sonnet", estimate_tokens(f"{SYSTEM}\nhello there"))


async def test_streams_get_the_variant_too(gw: Gateway) -> None:
    stream = await gw.stream(ask("styled", stream=True, include_usage=True))
    try:
        text = "".join([chunk.text or "" async for chunk in stream])
    finally:
        await stream.aclose()
    assert text == "gpt-4o-mini says: hello there"
    assert stream.usage is not None
    assert stream.usage.input_tokens == estimate_tokens(f"{PREFIX}\nhello there")
