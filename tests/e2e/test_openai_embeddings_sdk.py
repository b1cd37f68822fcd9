"""``POST /v1/embeddings`` through a running gateway (uvicorn, real sockets) with the official ``openai`` SDK and
``langchain-openai``, in front of OpenAI, Azure OpenAI, Gemini and an Ollama-preset deployment on the simulator."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from langchain_openai import OpenAIEmbeddings
from tests.conftest import LiveStack, live_stack

from switchyard.simulator.embeddings import vector

EMBEDDERS = ["small", "azure-embed", "gemini-embed", "ollama-embed"]


def embeddings_config(base_url: str) -> dict[str, Any]:
    return {
        "providers": {
            "openai": {"type": "openai", "api_key": "sk-test-key", "base_url": f"{base_url}/v1"},
            "azure": {"type": "azure", "api_key": "az-test-key", "base_url": base_url},
            "gemini": {"type": "gemini", "api_key": "gem-test-key", "base_url": base_url},
            "ollama": {"type": "ollama", "api_key": "ollama", "base_url": base_url},
            "anthropic": {"type": "anthropic", "api_key": "ant-test-key", "base_url": base_url},
            "down": {"type": "openai", "api_key": "sk-test-key", "base_url": "http://127.0.0.1:9/v1"},
        },
        "models": {
            "small": {"provider": "openai", "model": "text-embedding-3-small"},
            "azure-embed": {"provider": "azure", "model": "embed-prod", "base_model": "text-embedding-3-small"},
            "gemini-embed": {"provider": "gemini", "model": "gemini-embedding-001"},
            "ollama-embed": {"provider": "ollama", "model": "nomic-embed-text"},
            "dead-embed": {"provider": "down", "model": "text-embedding-3-small"},
            "gpt": {"provider": "openai", "model": "gpt-4o-mini"},
            "claude": {"provider": "anthropic", "model": "claude-sonnet-4-6"},
        },
        "routes": {
            "embed-chain": {"targets": ["dead-embed", "small"]},
            "everything": {"targets": ["gpt", "claude", "gemini-embed"]},
        },
        "resilience": {"retry": {"server_error": 0}},
    }


@pytest.fixture(scope="module")
def live() -> Iterator[LiveStack]:
    with live_stack(embeddings_config) as stack:
        yield stack


@pytest.fixture
def client(live: LiveStack) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{live.gateway_url}/v1", api_key="unused", max_retries=0, timeout=10) as c:
        yield c


@pytest.mark.parametrize("model", EMBEDDERS)
def test_sdk_default_base64_and_float_agree(client: openai.OpenAI, model: str) -> None:
    texts = ["The quick brown fox", "jumps over", "the lazy dog"]
    raw = client.embeddings.with_raw_response.create(model=model, input=texts)
    default = raw.parse()  # the SDK asked for base64 and decoded it
    floats = client.embeddings.create(model=model, input=texts, encoding_format="float")
    assert [d.index for d in default.data] == [0, 1, 2]
    assert default.model == model
    for got, as_float, text in zip(default.data, floats.data, texts, strict=True):
        assert got.embedding == as_float.embedding
        assert got.embedding == pytest.approx(vector(text, len(got.embedding)))
        assert math.isclose(math.fsum(v * v for v in got.embedding), 1.0, rel_tol=1e-4)
    assert default.usage.prompt_tokens == default.usage.total_tokens > 0
    assert raw.headers["x-switchyard-deployment"] == model
    assert raw.headers["x-switchyard-attempts"] == "1"
    cost = raw.headers["x-switchyard-cost-usd"]
    assert cost == "0.00000000" if model == "ollama-embed" else float(cost) > 0
    assert ("x-switchyard-usage-estimated" in raw.headers) == (model == "gemini-embed")


@pytest.mark.parametrize("model", EMBEDDERS)
def test_dimensions(client: openai.OpenAI, model: str) -> None:
    result = client.embeddings.create(model=model, input="one text", dimensions=64)
    assert len(result.data[0].embedding) == 64


def test_token_array_input(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="small", input=[[101, 202, 303], [7]], encoding_format="float")
    assert len(result.data) == 2
    assert result.usage.prompt_tokens == 4
    with pytest.raises(openai.BadRequestError, match="token-array embedding input"):
        client.embeddings.create(model="gemini-embed", input=[[1, 2]])


def test_route_falls_back_to_the_next_embedder(client: openai.OpenAI) -> None:
    raw = client.embeddings.with_raw_response.create(model="embed-chain", input=["fallback please"])
    assert raw.parse().data[0].embedding == pytest.approx(vector("fallback please", 1536))
    assert raw.headers["x-switchyard-deployment"] == "small"
    assert raw.headers["x-switchyard-attempts"] == "2"
    assert raw.headers["x-switchyard-fallback"] == "true"


def test_mixed_route_serves_each_kind_from_its_own_deployments(client: openai.OpenAI) -> None:
    raw = client.embeddings.with_raw_response.create(model="everything", input="x")
    assert raw.headers["x-switchyard-deployment"] == "gemini-embed"
    chat = client.chat.completions.with_raw_response.create(
        model="everything", messages=[{"role": "user", "content": "Hi"}]
    )
    assert chat.headers["x-switchyard-deployment"] == "gpt"


def test_chat_models_are_refused_clearly(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="'gpt': it is a chat model") as gpt:
        client.embeddings.create(model="gpt", input="x")
    assert gpt.value.code == "unsupported_feature"
    with pytest.raises(openai.BadRequestError, match=r"anthropic.*does not support embeddings"):
        client.embeddings.create(model="claude", input="x")
    with pytest.raises(openai.BadRequestError, match="embedding model: send it to /v1/embeddings"):
        client.chat.completions.create(model="small", messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(openai.BadRequestError, match=r"input\[1\] is an empty string"):
        client.embeddings.create(model="small", input=["fine", ""])


def test_async_client(live: LiveStack) -> None:
    async def call() -> list[float]:
        async with openai.AsyncOpenAI(base_url=f"{live.gateway_url}/v1", api_key="k", max_retries=0) as aclient:
            result = await aclient.embeddings.create(model="azure-embed", input="async")
            return result.data[0].embedding

    assert live.run(call()) == pytest.approx(vector("async", 768))  # the simulator knows no "embed-prod" model


def test_langchain_openai_embeddings(live: LiveStack) -> None:
    # check_embedding_ctx_length=False: otherwise the client tokenizes with tiktoken, whose encoding it downloads.
    embeddings = OpenAIEmbeddings(
        model="small", base_url=f"{live.gateway_url}/v1", api_key="unused",  # type: ignore[arg-type]
        check_embedding_ctx_length=False, max_retries=0,
    )
    documents = embeddings.embed_documents(["first document", "second document"])
    query = embeddings.embed_query("a question")
    assert [len(d) for d in documents] == [1536, 1536]
    assert documents[1] == pytest.approx(vector("second document", 1536))
    assert query == pytest.approx(vector("a question", 1536))
