"""The seam to the semantic cache: a route that opts in is answered for a question that means the same, in the
same context and namespace, with every invalidation the exact cache has.

``NormalisedQuestions`` stands in for the semantic cache (``switchyard.cache.semantic``, built separately): it
matches questions equal after folding case, punctuation and spacing — a real, if timid, implementation of the
interface, which is all these tests are about."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from tests.conftest import sim_config

from switchyard import ChatRequest, Gateway, Message, parse_config
from switchyard.governance.principal import Principal
from switchyard.governance.records import VirtualKey
from switchyard.simulator import Simulator


@dataclass(frozen=True)
class Match:
    entry_id: str
    response_key: str


class NormalisedQuestions:
    def __init__(self) -> None:
        self.questions: dict[tuple[str, str | bytes, str], Match] = {}
        self.started = self.closed = False

    @staticmethod
    def _fold(text: str) -> str:
        return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())

    async def start(self) -> None:
        self.started = True

    async def aclose(self) -> None:
        self.closed = True

    async def lookup(
        self, namespace: str, context_key: str | bytes, text: str, task: str | None = None
    ) -> Match | None:
        return self.questions.get((namespace, context_key, self._fold(text)))

    async def insert(
        self, namespace: str, context_key: str | bytes, text: str, response_key: str, ttl_s: float
    ) -> str | None:
        match = Match(f"q{len(self.questions)}", response_key)
        self.questions[namespace, context_key, self._fold(text)] = match
        return match.entry_id

    async def delete(self, entry_id: str) -> bool:
        kept = {k: m for k, m in self.questions.items() if m.entry_id != entry_id}
        removed, self.questions = len(kept) < len(self.questions), kept
        return removed

    async def invalidate_namespace(self, namespace: str) -> int:
        kept = {k: m for k, m in self.questions.items() if k[0] != namespace}
        removed, self.questions = len(self.questions) - len(kept), kept
        return removed


def gateway_for(sim: Simulator) -> tuple[Gateway, NormalisedQuestions]:
    routes = {"faq": {"targets": ["gpt"], "cache": {"semantic": True}}, "plain": {"targets": ["gpt"]}}
    config = parse_config(sim_config(sim.base_url, cache={"enabled": True}, routes=routes))
    gateway = Gateway(config)
    assert gateway.cache is not None
    index = gateway.cache.semantic = NormalisedQuestions()
    return gateway, index


def ask(text: str, route: str = "faq", system: str = "Be brief.") -> ChatRequest:
    return ChatRequest(model=route, messages=[Message.system(system), Message.user(text)])


def caller(key_id: str) -> Principal:
    return Principal.of(VirtualKey(id=key_id, name=key_id, key_hash=key_id, display="sk-…", created_at=time.time()))


def outcomes(*responses: Any) -> list[str | None]:
    return [r.meta.cache if r.meta else None for r in responses]


async def test_a_paraphrase_in_the_same_context_is_a_semantic_hit(sim: Simulator) -> None:
    gateway, _ = gateway_for(sim)
    async with gateway:
        assert gateway.cache is not None
        first = await gateway.chat(ask("What is the capital of France?"))
        await gateway.chat(ask("What is the capital of France?", route="plain"))
        await gateway.cache.flush()
        calls = sum(sim.requests.values())
        paraphrase = await gateway.chat(ask("what is the capital of france"))
        assert sum(sim.requests.values()) == calls
        other_context = await gateway.chat(ask("what is the capital of france", system="Be verbose."))
        not_opted_in = await gateway.chat(ask("what is the capital of france", route="plain"))
        other_tenant = await gateway.chat(ask("what is the capital of france"), principal=caller("k-bob"))
    assert outcomes(first, paraphrase, other_context, not_opted_in, other_tenant) == [
        "miss", "semantic-hit", "miss", "miss", "miss"]
    assert paraphrase.text == first.text
    assert gateway.cache.metrics.semantic_lookup_ms.count == 4  # every exact miss on the opted-in route


async def test_bumps_and_feedback_retire_semantic_matches(sim: Simulator) -> None:
    gateway, index = gateway_for(sim)
    alice = caller("k-alice")
    async with gateway:
        cache = gateway.cache
        assert cache is not None
        await gateway.chat(ask("Who wrote Hamlet?"), principal=alice)
        await cache.flush()
        await cache.invalidate("key:k-alice")
        after_bump = await gateway.chat(ask("who wrote hamlet"), principal=alice)
        await cache.flush()
        served = await gateway.chat(ask("Who wrote Hamlet ?"), principal=alice)
        assert len(index.questions) == 1  # the bump cleared the index; one question was stored since
        assert await cache.feedback(served.id, 0.0, alice) is True
        assert index.questions == {}  # the paraphrase's match is gone, and so is the answer (the next is a miss)
        after_feedback = await gateway.chat(ask("WHO WROTE HAMLET"), principal=alice)
    assert outcomes(after_bump, served, after_feedback) == ["miss", "semantic-hit", "miss"]
    assert (index.started, index.closed) == (True, True)
