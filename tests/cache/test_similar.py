"""The exact cache with the semantic cache behind it (a route that opts in): a question that means the same, in
the same context and namespace, is answered from the cache, and every invalidation of the exact cache retires
semantic matches too. The semantic cache is the real one (its own tests: ``tests/cache/semantic``); the questions
here differ only in case and spacing, which it matches without its model, so these tests do not depend on its
calibration."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.conftest import sim_config

from switchyard import ChatRequest, ConfigError, Gateway, Message, parse_config
from switchyard.cache.semantic.cache import SemanticCache
from switchyard.governance.principal import Principal
from switchyard.governance.records import VirtualKey
from switchyard.simulator import Simulator


@pytest.fixture
async def gateway(sim: Simulator) -> AsyncIterator[Gateway]:
    routes = {"faq": {"targets": ["gpt"], "cache": {"semantic": True}}, "plain": {"targets": ["gpt"]}}
    async with Gateway(parse_config(sim_config(sim.base_url, cache={"enabled": True}, routes=routes))) as gw:
        assert gw.cache is not None
        assert isinstance(gw.cache.semantic, SemanticCache)
        yield gw


def ask(text: str, route: str = "faq", system: str = "Be brief.") -> ChatRequest:
    return ChatRequest(model=route, messages=[Message.system(system), Message.user(text)])


def caller(key_id: str) -> Principal:
    return Principal.of(VirtualKey(id=key_id, name=key_id, key_hash=key_id, display="sk-…", created_at=time.time()))


def outcomes(*responses: Any) -> list[str | None]:
    return [r.meta.cache if r.meta else None for r in responses]


async def test_the_same_question_in_the_same_context_is_a_semantic_hit(gateway: Gateway, sim: Simulator) -> None:
    assert gateway.cache is not None
    first = await gateway.chat(ask("What is the capital of France?"))
    await gateway.chat(ask("What is the capital of France?", route="plain"))
    await gateway.cache.flush()
    calls = sum(sim.requests.values())
    similar = await gateway.chat(ask("what is the  capital of france?"))
    assert sum(sim.requests.values()) == calls
    other_context = await gateway.chat(ask("what is the  capital of france?", system="Be verbose."))
    not_opted_in = await gateway.chat(ask("what is the  capital of france?", route="plain"))
    other_tenant = await gateway.chat(ask("what is the  capital of france?"), principal=caller("k-bob"))
    assert outcomes(first, similar, other_context, not_opted_in, other_tenant) == [
        "miss", "semantic-hit", "miss", "miss", "miss"]
    assert similar.text == first.text
    assert gateway.cache.metrics.semantic_lookup_ms.count == 4  # every exact miss on the opted-in route


async def test_bumps_and_feedback_retire_semantic_matches(gateway: Gateway) -> None:
    alice = caller("k-alice")
    cache = gateway.cache
    assert cache is not None
    await gateway.chat(ask("Who wrote Hamlet?"), principal=alice)
    await cache.flush()
    await cache.invalidate("key:k-alice")
    after_bump = await gateway.chat(ask("who wrote hamlet?"), principal=alice)
    await cache.flush()
    served = await gateway.chat(ask("WHO WROTE HAMLET?"), principal=alice)
    assert await cache.feedback(served.id, 0.0, alice) is True
    after_feedback = await gateway.chat(ask("Who  wrote Hamlet?"), principal=alice)
    assert outcomes(after_bump, served, after_feedback) == ["miss", "semantic-hit", "miss"]


@pytest.mark.parametrize(("threshold", "expected"), [(None, "miss"), (0.5, "semantic-hit")])
async def test_the_semantic_threshold_trades_hits_for_safety(
    sim: Simulator, threshold: float | None, expected: str
) -> None:
    routes = {"faq": {"targets": ["gpt"], "cache": {"semantic": True}}}
    cache = {"enabled": True, "semantic_threshold": threshold}
    async with Gateway(parse_config(sim_config(sim.base_url, cache=cache, routes=routes))) as gw:
        assert gw.cache is not None
        assert isinstance(gw.cache.semantic, SemanticCache)
        if threshold is not None:
            assert gw.cache.semantic.verifier.threshold == threshold
        await gw.chat(ask("How do I make pancakes?"))
        await gw.cache.flush()
        paraphrase = await gw.chat(ask("How can I make pancakes?"))
    assert outcomes(paraphrase) == [expected]


def test_a_semantic_threshold_outside_zero_to_one_is_refused(sim: Simulator) -> None:
    with pytest.raises(ConfigError, match="semantic_threshold"):
        parse_config(sim_config(sim.base_url, cache={"enabled": True, "semantic_threshold": 1.5}))
