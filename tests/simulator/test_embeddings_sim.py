"""The simulator's embeddings endpoints, driven by the official SDKs (``openai`` for OpenAI and Azure OpenAI,
``google-genai`` for Gemini's ``batchEmbedContents``), so that their wire formats are the real ones."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import aiohttp
import httpx
import openai
import orjson
import pytest
from google import genai
from google.genai import types

from switchyard.simulator import Simulator
from switchyard.simulator.embeddings import EmbedJob, parse_gemini_batch, vector


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(api_key="sk-test", base_url=f"{sim.base_url}/v1", max_retries=0, timeout=10) as c:
        yield c


@pytest.fixture
async def gemini(sim: Simulator) -> AsyncIterator[genai.client.AsyncClient]:
    async with aiohttp.ClientSession() as session:
        options = types.HttpOptions(base_url=sim.base_url, timeout=10_000, aiohttp_client=session,
                                    retry_options=types.HttpRetryOptions(attempts=1))
        client = genai.Client(api_key="gem-test", http_options=options)
        try:
            async with client.aio as aio:
                yield aio
        finally:
            client.close()


def test_vectors_are_deterministic_unit_vectors() -> None:
    a, b = vector("hello", 64), vector("hello", 64)
    assert a == b
    assert vector("hello!", 64) != a
    assert math.isclose(math.fsum(v * v for v in a), 1.0, rel_tol=1e-5)


async def test_openai_sdk_default_base64_matches_float(client: openai.AsyncOpenAI) -> None:
    # The SDK asks for base64 unless told otherwise, and decodes it itself.
    default = await client.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta gamma"])
    floats = await client.embeddings.create(
        model="text-embedding-3-small", input=["alpha", "beta gamma"], encoding_format="float"
    )
    assert [len(d.embedding) for d in default.data] == [1536, 1536]
    assert [d.index for d in default.data] == [0, 1]
    assert default.data[0].embedding == floats.data[0].embedding == vector("alpha", 1536)
    assert default.usage.prompt_tokens == default.usage.total_tokens > 0
    assert default.model == "text-embedding-3-small"


async def test_openai_dimensions_token_input_and_large_default(client: openai.AsyncOpenAI) -> None:
    short = await client.embeddings.create(model="text-embedding-3-large", input="x", dimensions=256)
    assert len(short.data[0].embedding) == 256
    large = await client.embeddings.create(model="text-embedding-3-large", input="x")
    assert len(large.data[0].embedding) == 3072
    tokens = await client.embeddings.create(model="text-embedding-3-small", input=[[1, 2, 3], [4]])
    assert len(tokens.data) == 2
    assert tokens.usage.prompt_tokens == 4


async def test_openai_rejects_what_openai_rejects(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="does not support specifying dimensions"):
        await client.embeddings.create(model="text-embedding-ada-002", input="x", dimensions=10)
    with pytest.raises(openai.BadRequestError, match="input"):
        await client.embeddings.create(model="text-embedding-3-small", input=[""])


async def test_faults_apply_to_embeddings(sim: Simulator, client: openai.AsyncOpenAI) -> None:
    sim.set_faults("openai:text-embedding-3-small", {"error_rate": 1.0, "error_status": 503})
    with pytest.raises(openai.InternalServerError):
        await client.embeddings.create(model="text-embedding-3-small", input="x")
    sim.set_faults("openai:text-embedding-3-small", {"context_window": 3})
    with pytest.raises(openai.BadRequestError, match="maximum context length"):
        await client.embeddings.create(model="text-embedding-3-small", input="a rather long input text")
    sim.clear_faults()
    async with httpx.AsyncClient() as http:
        garbled = await http.post(
            f"{sim.base_url}/v1/embeddings", json={"model": "m", "input": "x"},
            headers={"authorization": "Bearer k", "x-sim-fault": "garbled"},
        )
    assert garbled.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(garbled.content)
    assert sim.requests["openai:text-embedding-3-small"] == 2


async def test_azure_openai_sdk(sim: Simulator) -> None:
    async with openai.AsyncAzureOpenAI(
        azure_endpoint=sim.base_url, api_key="az-test", api_version="2024-10-21", max_retries=0, timeout=10
    ) as azure:
        result = await azure.embeddings.create(model="my-embedder", input=["one", "two"], dimensions=32)
    assert [len(d.embedding) for d in result.data] == [32, 32]
    assert result.data[1].embedding == pytest.approx(vector("two", 32))
    assert sim.requests["azure:my-embedder"] == 1


async def test_gemini_sdk_embed_content(sim: Simulator, gemini: genai.client.AsyncClient) -> None:
    result = await gemini.models.embed_content(
        model="gemini-embedding-001", contents=["What is your name?", "Blue"],
        config=types.EmbedContentConfig(output_dimensionality=64, task_type="RETRIEVAL_DOCUMENT"),
    )
    assert result.embeddings is not None
    assert [len(e.values or []) for e in result.embeddings] == [64, 64]
    assert result.embeddings[1].values == pytest.approx(vector("Blue", 64))
    default = await gemini.models.embed_content(model="text-embedding-004", contents="hi")
    assert default.embeddings is not None
    assert len(default.embeddings[0].values or []) == 768
    assert sim.requests["gemini:gemini-embedding-001"] == 1


async def test_gemini_checks_the_batch(sim: Simulator, gemini: genai.client.AsyncClient) -> None:
    with pytest.raises(genai.errors.ClientError, match="at most 100"):
        await gemini.models.embed_content(model="gemini-embedding-001", contents=[f"t{i}" for i in range(101)])
    with pytest.raises(ValueError, match="does not match"):
        parse_gemini_batch({"requests": [{"model": "models/other", "content": {"parts": [{"text": "x"}]}}]},
                           "gemini-embedding-001")
    with pytest.raises(ValueError, match="Unknown name"):
        parse_gemini_batch(
            {"requests": [{"model": "models/m", "content": {"parts": [{"text": "x"}]}, "encoding_format": "x"}]}, "m"
        )
    job = parse_gemini_batch({"requests": [{"model": "models/m", "content": {"parts": [{"text": "abcdefgh"}]}}]}, "m")
    assert job == EmbedJob(["abcdefgh"], 2, 768)
