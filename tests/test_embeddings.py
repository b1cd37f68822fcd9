"""``Gateway.embed`` end to end against the simulator: request checks, routing to embedding deployments only,
fallback on a failing deployment, admission (budgets, rate limits), cost, the ledger row and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from switchyard import Gateway, parse_config
from switchyard.embedding_types import EmbeddingRequest
from switchyard.embeddings import check_embedding_request, estimate_input_tokens, routing_view
from switchyard.errors import (
    BudgetExceededError,
    ForbiddenError,
    InvalidRequestError,
    LimitExceededError,
    NoCandidateError,
    UnsupportedFeatureError,
)
from switchyard.governance.ledger import Ledger, open_database
from switchyard.governance.principal import Principal
from switchyard.governance.records import VirtualKey
from switchyard.pricing import estimate_text_tokens
from switchyard.simulator import Simulator
from switchyard.simulator.embeddings import vector
from switchyard.types import ChatRequest, Message


def config(base_url: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "providers": {
            "openai": {"type": "openai", "api_key": "sk-test", "base_url": f"{base_url}/v1"},
            "gemini": {"type": "gemini", "api_key": "gem-test", "base_url": base_url},
        },
        "models": {
            "large": {"provider": "openai", "model": "text-embedding-3-large"},
            "small": {"provider": "openai", "model": "text-embedding-3-small"},
            "gemini-embed": {"provider": "gemini", "model": "gemini-embedding-001"},
            "gpt": {"provider": "openai", "model": "gpt-4o-mini"},
        },
        "routes": {
            "embed": {"targets": ["large", "small"]},
            "mixed": {"targets": ["gpt", "gemini-embed"]},
            "chat-only": {"targets": ["gpt"]},
            "embed-only": {"targets": ["small", "gemini-embed"]},
        },
        "resilience": {"retry": {"server_error": 0}},
    }
    data.update(extra)
    return data


@pytest.fixture
async def gw(sim: Simulator) -> AsyncIterator[Gateway]:
    async with Gateway(parse_config(config(sim.base_url))) as gateway:
        yield gateway


def embed(model: str, *texts: str, **fields: Any) -> EmbeddingRequest:
    return EmbeddingRequest(model=model, input=list(texts) or ["hello world"], **fields)


def test_request_checks() -> None:
    for request, message in [
        (EmbeddingRequest(model="m"), "input must not be empty"),
        (EmbeddingRequest(model="m", input=["a", ""]), r"input\[1\] is an empty string"),
        (EmbeddingRequest(model="m", tokens=[[1], []]), r"input\[1\] is an empty token array"),
        (EmbeddingRequest(model="m", input=["a"], tokens=[[1]]), "not both"),
        (EmbeddingRequest(model="m", input=["a"], dimensions=0), "dimensions must be a positive integer"),
        (EmbeddingRequest(model="m", input=["a"] * 2049), "at most 2048 inputs"),
    ]:
        with pytest.raises(InvalidRequestError, match=message):
            check_embedding_request(request)


def test_estimate_and_routing_view() -> None:
    assert estimate_input_tokens(embed("m", "one two", "three")) == (
        estimate_text_tokens("one two") + estimate_text_tokens("three")
    )
    assert estimate_input_tokens(EmbeddingRequest(model="m", tokens=[[1, 2, 3], [4]])) == 4
    view = routing_view(embed("m", user="u", tags=["eu"], session="s"))
    assert (view.model, view.messages, view.max_tokens, view.user, view.tags, view.session) == (
        "m", [], 0, "u", ["eu"], "s"
    )


async def test_embed_reports_who_answered_and_the_cost(gw: Gateway) -> None:
    response = await gw.embed(embed("small", "alpha", "beta"))
    assert response.vectors == [pytest.approx(vector("alpha", 1536)), pytest.approx(vector("beta", 1536))]
    meta = response.meta
    assert meta is not None
    assert (meta.deployment, meta.provider, len(meta.attempts)) == ("small", "openai", 1)
    assert response.usage is not None
    assert meta.cost_usd == pytest.approx(response.usage.input_tokens * 0.02 / 1e6)
    assert meta.estimated_cost_usd is not None
    assert meta.estimated_cost_usd > 0
    assert meta.request_id


async def test_route_falls_back_when_the_first_deployment_fails(sim: Simulator, gw: Gateway) -> None:
    sim.set_faults("openai:text-embedding-3-large", {"error_rate": 1.0, "error_status": 503})
    response = await gw.embed(embed("embed", "fall back"))
    meta = response.meta
    assert meta is not None
    assert meta.deployment == "small"
    assert [a.deployment for a in meta.attempts] == ["large", "small"]
    assert meta.attempts[0].status == 503
    assert meta.routing is not None
    assert meta.routing.candidates == ("large", "small")
    assert response.vectors[0] == pytest.approx(vector("fall back", 1536))


async def test_routing_serves_each_kind_from_its_own_deployments(gw: Gateway) -> None:
    response = await gw.embed(embed("mixed"))
    assert response.meta is not None
    assert response.meta.deployment == "gemini-embed"
    answer = await gw.chat(ChatRequest(model="mixed", messages=[Message.user("Hi")]))
    assert answer.meta is not None
    assert answer.meta.deployment == "gpt"


async def test_the_default_chain_keeps_each_requests_own_kind(sim: Simulator) -> None:
    chained = config(sim.base_url, resilience={"fallbacks": ["gpt", "small"]})
    async with Gateway(parse_config(chained)) as gw:
        router = gw.router
        assert [d.name for d in router.plan(routing_view(embed("large")), mode="embedding").candidates] == [
            "large", "small"
        ]
        assert [d.name for d in router.plan(ChatRequest(model="gpt", messages=[])).candidates] == ["gpt"]
        # A route's own targets of the wrong kind are filtered out; the chain's right kind still serves.
        plan = router.plan(routing_view(embed("chat-only")), mode="embedding")
        assert [d.name for d in plan.candidates] == ["small"]


async def test_a_route_with_nothing_of_the_right_kind_says_so(gw: Gateway) -> None:
    with pytest.raises(NoCandidateError) as embedding:
        await gw.embed(embed("chat-only"))
    assert embedding.value.status_code == 400
    assert "mode removed gpt (a chat model; the request is for embeddings)" in embedding.value.message
    with pytest.raises(NoCandidateError, match=r"small \(an embedding model; the request is for chat completions\)"):
        await gw.chat(ChatRequest(model="embed-only", messages=[Message.user("Hi")]))


async def test_naming_the_wrong_kind_of_model_is_a_clear_400(gw: Gateway) -> None:
    with pytest.raises(UnsupportedFeatureError, match="'gpt': it is a chat model") as caught:
        await gw.embed(embed("gpt"))
    assert caught.value.status_code == 400
    with pytest.raises(UnsupportedFeatureError, match="'small' is an embedding model: send it to /v1/embeddings"):
        await gw.chat(ChatRequest(model="small", messages=[Message.user("Hi")]))


async def test_budget_rate_limit_and_key_models_apply(sim: Simulator) -> None:
    governance = {
        "budgets": [{"scope": "provider", "name": "openai", "limit_usd": 0.0000001, "window": "daily"}],
        "model_limits": {"gemini-embed": {"rpm": 1}},
    }
    async with Gateway(parse_config(config(sim.base_url, governance=governance))) as gw:
        # ~10 tokens at $0.13/M is more than the whole budget: refused before any call.
        with pytest.raises(BudgetExceededError, match="provider 'openai' daily budget"):
            await gw.embed(embed("large", "a sentence long enough to cost more than the budget allows"))
        await gw.embed(embed("gemini-embed", "x"))
        with pytest.raises(LimitExceededError, match="model 'gemini-embed': 1 requests per minute"):
            await gw.embed(embed("gemini-embed", "y"))
        key = VirtualKey(id="k1", name="k", key_hash="h", display="sk-sy-k1", created_at=0.0, models=["small"])
        with pytest.raises(ForbiddenError, match="may not use 'large'"):
            await gw.embed(embed("large"), principal=Principal.of(key))
    assert sim.requests.get("openai:text-embedding-3-large", 0) == 0


async def test_ledger_row_and_metrics(sim: Simulator, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'usage.db'}"
    budgets = [{"scope": "global", "limit_usd": 10.0, "window": "daily"}]
    async with Gateway(parse_config(config(sim.base_url, governance={"budgets": budgets})),
                       ledger=Ledger(open_database(url), flush_interval_s=0.01)) as gw:
        response = await gw.embed(embed("small", "ledger me"), principal=Principal.of(None, user="ada"),
                                  request_id="req-embed-1")
        await asyncio.sleep(0.05)  # settlement runs in the background
        status = await gw.governor.budget_status(Principal(), gw.router.plan(routing_view(embed("small")),
                                                                              mode="embedding"))
        exposition = gw.telemetry.exposition().decode()
    assert response.meta is not None
    assert response.usage is not None
    assert status[0]["spent_usd"] == pytest.approx(response.meta.cost_usd)
    assert status[0]["pending_usd"] == 0
    async with open_database(url) as reader:
        rows = {r.request_id: r for r in await reader.fetch_usage()}
    row = rows["req-embed-1"]
    assert (row.deployment, row.model, row.provider, row.user, row.status) == (
        "small", "text-embedding-3-small", "openai", "ada", 200
    )
    assert (row.input_tokens, row.output_tokens) == (response.usage.input_tokens, 0)
    assert row.cost_usd == pytest.approx(response.meta.cost_usd)
    assert 'route="small"' in exposition
