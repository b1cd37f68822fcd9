"""The adapters' embeddings path (``Adapter.embed`` on the shared skeleton, OpenAI/Azure/Gemini wire formats),
driven against the simulator, against a tiny server for answers the simulator does not give, and as unit tests of
the upstream requests they build."""

from __future__ import annotations

import array
import base64
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from tests.conftest import SINGLE_SHOT, serve_routes

from switchyard import Gateway, parse_config
from switchyard.config import ModelConfig
from switchyard.embedding_types import EmbeddingRequest
from switchyard.errors import (
    BadRequestError,
    ConfigError,
    MalformedResponseError,
    UnsupportedFeatureError,
)
from switchyard.pricing import resolve
from switchyard.providers.base import Deployment
from switchyard.providers.openai import decode_vector
from switchyard.providers.registry import build_deployments
from switchyard.providers.transport import AiohttpTransport
from switchyard.simulator import Simulator
from switchyard.simulator.embeddings import vector


def config(base_url: str, **models: dict[str, Any]) -> dict[str, Any]:
    return {
        "resilience": SINGLE_SHOT,
        "providers": {
            "openai": {"type": "openai", "api_key": "sk-test", "base_url": f"{base_url}/v1"},
            "azure": {"type": "azure", "api_key": "az-test", "base_url": base_url, "api_version": "2024-10-21"},
            "gemini": {"type": "gemini", "api_key": "gem-test", "base_url": base_url},
            "anthropic": {"type": "anthropic", "api_key": "ant-test", "base_url": base_url},
            "ollama": {"type": "ollama", "api_key": "ollama", "base_url": base_url},
        },
        "models": models or {
            "small": {"provider": "openai", "model": "text-embedding-3-small"},
            "azure-embed": {"provider": "azure", "model": "embed-prod", "mode": "embedding"},
            "gemini-embed": {"provider": "gemini", "model": "gemini-embedding-001"},
            "nomic": {"provider": "ollama", "model": "nomic-embed-text"},
            "claude": {"provider": "anthropic", "model": "claude-sonnet-4-6"},
        },
    }


def deployments(base_url: str = "http://127.0.0.1:9") -> dict[str, Deployment]:
    return build_deployments(parse_config(config(base_url)), AiohttpTransport())


def embed(model: str, *texts: str, **fields: Any) -> EmbeddingRequest:
    return EmbeddingRequest(model=model, input=list(texts) or ["hello"], **fields)


# -- modes ------------------------------------------------------------------------------------------------------


def test_mode_comes_from_the_catalog_the_name_or_the_configuration() -> None:
    found = deployments()
    assert {name: d.mode for name, d in found.items()} == {
        "small": "embedding", "azure-embed": "embedding", "gemini-embed": "embedding", "nomic": "embedding",
        "claude": "chat",
    }
    # A name that says "embed" but a configuration that knows better.
    assert resolve(ModelConfig(provider="x", model="embedder-chat", mode="chat"), "ollama").kind == "chat"
    # The catalog's own entry wins over the name.
    assert resolve(ModelConfig(provider="x", model="gpt-4o-mini"), "openai").kind == "chat"
    assert resolve(ModelConfig(provider="x", model="text-embedding-004"), "gemini").kind == "embedding"


def test_an_anthropic_embedding_model_is_a_config_error() -> None:
    broken = config("http://127.0.0.1:9", claude={"provider": "anthropic", "model": "claude-x", "mode": "embedding"})
    with pytest.raises(ConfigError, match=r"models\.claude\.mode: provider 'anthropic' has no embeddings API"):
        build_deployments(parse_config(broken), AiohttpTransport())


def test_checks_refuse_the_wrong_kind_before_sending() -> None:
    found = deployments()
    claude, small, gemini = found["claude"], found["small"], found["gemini-embed"]
    with pytest.raises(UnsupportedFeatureError, match=r"provider 'anthropic'.*does not support embeddings"):
        claude.adapter.check_embeddings(embed("claude"), claude)
    with pytest.raises(UnsupportedFeatureError, match="token-array embedding input"):
        gemini.adapter.check_embeddings(EmbeddingRequest(model="g", tokens=[[1, 2]]), gemini)
    small.adapter.check_embeddings(EmbeddingRequest(model="s", tokens=[[1, 2]]), small)


# -- the requests built -----------------------------------------------------------------------------------------


def test_openai_request() -> None:
    small = deployments()["small"]
    request = embed("small", "a", "b", dimensions=64, encoding_format="base64", user="u1", extra={"x_opt": 1})
    upstream = small.adapter._build_embeddings_request(request, small)
    assert upstream.url == "http://127.0.0.1:9/v1/embeddings"
    assert orjson.loads(upstream.body) == {
        "model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": "base64", "dimensions": 64,
        "user": "u1", "x_opt": 1,
    }
    tokens = small.adapter._build_embeddings_request(EmbeddingRequest(model="s", tokens=[[1, 2], [3]]), small)
    assert orjson.loads(tokens.body)["input"] == [[1, 2], [3]]


def test_azure_request_names_the_deployment_in_the_path() -> None:
    azure = deployments()["azure-embed"]
    upstream = azure.adapter._build_embeddings_request(embed("azure-embed"), azure)
    assert upstream.url == "http://127.0.0.1:9/openai/deployments/embed-prod/embeddings?api-version=2024-10-21"
    assert "model" not in orjson.loads(upstream.body)
    assert upstream.headers["api-key"] == "az-test"


def test_gemini_request_is_one_batch_entry_per_input() -> None:
    gemini = deployments()["gemini-embed"]
    request = embed("gemini-embed", "a", "b", dimensions=32, extra={"taskType": "RETRIEVAL_QUERY"})
    upstream = gemini.adapter._build_embeddings_request(request, gemini)
    assert upstream.url == "http://127.0.0.1:9/v1beta/models/gemini-embedding-001:batchEmbedContents"
    entry = {"model": "models/gemini-embedding-001", "outputDimensionality": 32, "taskType": "RETRIEVAL_QUERY"}
    assert orjson.loads(upstream.body) == {"requests": [
        {**entry, "content": {"parts": [{"text": "a"}]}}, {**entry, "content": {"parts": [{"text": "b"}]}},
    ]}


def test_decode_vector() -> None:
    packed = base64.b64encode(array.array("f", [0.5, -1.25]).tobytes()).decode()
    assert decode_vector(packed) == [0.5, -1.25]
    assert decode_vector([0.1, 2]) == [0.1, 2]
    with pytest.raises(TypeError):
        decode_vector({"values": []})


# -- against the simulator --------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["small", "azure-embed", "gemini-embed", "nomic"])
async def test_embed_against_the_simulator(sim: Simulator, model: str) -> None:
    async with Gateway(parse_config(config(sim.base_url))) as gw:
        response = await gw.embed(embed(model, "one", "two", dimensions=16, encoding_format="base64"))
    assert response.vectors == [pytest.approx(vector("one", 16)), pytest.approx(vector("two", 16))]
    assert response.usage is not None
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens == 0
    assert response.usage_estimated == (model == "gemini-embed")
    assert response.meta is not None
    assert response.meta.deployment == model


async def test_upstream_bad_request_is_mapped(sim: Simulator) -> None:
    models = {"ada": {"provider": "openai", "model": "text-embedding-ada-002"}}
    async with Gateway(parse_config(config(sim.base_url, **models))) as gw:
        with pytest.raises(BadRequestError, match="does not support specifying dimensions") as caught:
            await gw.embed(embed("ada", dimensions=8))
    assert caught.value.deployment == "ada"


# -- answers the simulator does not give ------------------------------------------------------------------------

_ODD: dict[str, Any] = {
    "short": {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [1.0]}], "usage": None},
    "shape": {"object": "list", "data": "nope"},
    "reordered": {"data": [{"index": 1, "embedding": [2.0]}, {"index": 0, "embedding": [1.0]}],
                  "usage": {"prompt_tokens": 7, "total_tokens": 7}},
    "gemini-usage": {"embeddings": [{"values": [1.0]}, {"values": [2.0]}], "usageMetadata": {"promptTokenCount": 9}},
}


@pytest.fixture
async def odd() -> AsyncIterator[str]:
    async def answer(request: web.Request) -> web.Response:
        case = request.match_info["case"]
        return web.Response(body=orjson.dumps(_ODD[case]), content_type="application/json")

    async def gemini(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(_ODD["gemini-usage"]), content_type="application/json")

    async with serve_routes(
        web.post("/{case}/v1/embeddings", answer), web.post("/v1beta/models/{action}", gemini)
    ) as url:
        yield url


async def odd_embed(base: str, case: str, *texts: str) -> Any:
    async with Gateway(parse_config(config(f"{base}/{case}"))) as gw:
        return await gw.embed(embed("small", *texts))


async def test_too_few_vectors_is_malformed(odd: str) -> None:
    with pytest.raises(MalformedResponseError, match="1 embeddings for 2 inputs"):
        await odd_embed(odd, "short", "a", "b")


async def test_unexpected_shape_is_malformed(odd: str) -> None:
    with pytest.raises(MalformedResponseError, match="unexpected response shape"):
        await odd_embed(odd, "shape", "a")


async def test_vectors_are_put_in_input_order(odd: str) -> None:
    response = await odd_embed(odd, "reordered", "a", "b")
    assert response.vectors == [[1.0], [2.0]]
    assert response.usage.input_tokens == 7


async def test_gemini_usage_is_taken_when_reported(odd: str) -> None:
    async with Gateway(parse_config(config(odd))) as gw:
        response = await gw.embed(embed("gemini-embed", "a", "b"))
    assert response.usage is not None
    assert response.usage.input_tokens == 9
    assert not response.usage_estimated
