"""``POST /v1/embeddings``: parsing OpenAI's body (every ``input`` shape, clear 400s), rendering float and base64
vectors, and the endpoint in-process over the simulator (authentication, attribution headers, tags, max cost)."""

from __future__ import annotations

import array
import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.conftest import running

from switchyard import Gateway, GatewayApp, parse_config
from switchyard.embedding_types import EmbeddingResponse
from switchyard.errors import InvalidRequestError
from switchyard.server.embeddings_api import encode_vector, parse_embedding_request, render_embeddings
from switchyard.simulator import Simulator
from switchyard.simulator.embeddings import vector
from switchyard.types import ResponseMeta, Usage


@pytest.mark.parametrize(("value", "texts", "tokens"), [
    ("one", ["one"], []),
    (["a", "b"], ["a", "b"], []),
    ([1, 2, 3], [], [[1, 2, 3]]),
    ([[1, 2], [3]], [], [[1, 2], [3]]),
])
def test_input_shapes(value: Any, texts: list[str], tokens: list[list[int]]) -> None:
    body = {"model": "m", "input": value, "dimensions": 8, "encoding_format": "base64", "user": "u", "x_vendor": 1}
    request = parse_embedding_request(httpx.Request("POST", "/", json=body).content)
    assert (request.input, request.tokens) == (texts, tokens)
    assert (request.dimensions, request.encoding_format, request.user) == (8, "base64", "u")
    assert request.extra == {"x_vendor": 1}


@pytest.mark.parametrize(("body", "message", "param"), [
    (b"{", "not valid JSON", None),
    (b"[]", "must be a JSON object", None),
    (b'{"input": "x"}', "missing required field `model`", None),
    (b'{"model": "m"}', "missing required field `input`", None),
    (b'{"model": "m", "input": []}', "input must be a string, an array of strings", "input"),
    (b'{"model": "m", "input": ["a", 1]}', "not a mix", "input"),
    (b'{"model": "m", "input": [-1]}', "non-negative integers", "input"),
    (b'{"model": "m", "input": [""]}', r"input\[0\] is an empty string", "input"),
    (b'{"model": "m", "input": "x", "dimensions": "8"}', "Expected `int | null`, got `str` at 'dimensions'",
     "dimensions"),
    (b'{"model": "m", "input": "x", "encoding_format": "int8"}', "at 'encoding_format'", "encoding_format"),
])
def test_invalid_bodies_are_400s_naming_the_field(body: bytes, message: str, param: str | None) -> None:
    with pytest.raises(InvalidRequestError, match=message) as caught:
        parse_embedding_request(body)
    assert caught.value.param == param


def test_base64_is_little_endian_float32() -> None:
    encoded = encode_vector([0.25, -2.0], "base64")
    assert isinstance(encoded, str)
    assert array.array("f", base64.b64decode(encoded)).tolist() == [0.25, -2.0]
    assert encode_vector([0.25], "float") == [0.25]
    response = EmbeddingResponse(model="up", vectors=[[1.0], [2.0]], usage=Usage(input_tokens=3),
                                 meta=ResponseMeta(deployment="d", provider="p", cost_usd=None))
    assert httpx.Response(200, content=render_embeddings(response, "asked", "float")).json() == {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [1.0]},
                 {"object": "embedding", "index": 1, "embedding": [2.0]}],
        "model": "asked",
        "usage": {"prompt_tokens": 3, "total_tokens": 3, "cost_usd": None},
    }


def config(base_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "providers": {"openai": {"type": "openai", "api_key": "sk-test", "base_url": f"{base_url}/v1"}},
        "models": {
            "small": {"provider": "openai", "model": "text-embedding-3-small", "tags": ["eu"]},
            "large": {"provider": "openai", "model": "text-embedding-3-large"},
        },
        "routes": {"embed": {"targets": ["large", "small"]}},
        **extra,
    }


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with running(GatewayApp(Gateway(parse_config(config(sim.base_url))))) as c:
        yield c


async def test_endpoint_answers_with_attribution_headers(client: httpx.AsyncClient) -> None:
    reply = await client.post("/embeddings", json={"model": "embed", "input": ["hi"], "dimensions": 4})
    assert reply.status_code == 200
    body = reply.json()
    assert body["model"] == "embed"
    assert body["data"][0]["embedding"] == pytest.approx(vector("hi", 4))
    assert reply.headers["x-switchyard-deployment"] == "large"
    assert reply.headers["x-switchyard-model"] == "text-embedding-3-large"
    assert float(reply.headers["x-switchyard-cost-usd"]) == pytest.approx(body["usage"]["prompt_tokens"] * 0.13e-6)
    assert reply.headers["x-switchyard-route"] == "strategy=priority; chosen=large; candidates=large,small"
    assert reply.headers["x-request-id"]


async def test_tags_and_metadata_tags_route(client: httpx.AsyncClient) -> None:
    header = await client.post("/v1/embeddings", json={"model": "embed", "input": "x"},
                               headers={"x-switchyard-tags": "eu"})
    assert header.headers["x-switchyard-deployment"] == "small"
    body = await client.post("/v1/embeddings", json={"model": "embed", "input": "x", "metadata": {"tags": ["eu"]}})
    assert body.headers["x-switchyard-deployment"] == "small"


async def test_errors_use_openai_bodies(client: httpx.AsyncClient) -> None:
    bad = await client.post("/v1/embeddings", json={"model": "embed", "input": [""]})
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "input"
    unknown = await client.post("/v1/embeddings", json={"model": "nope", "input": "x"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "model_not_found"
    costly = await client.post("/v1/embeddings", json={"model": "large", "input": "x " * 200},
                               headers={"x-switchyard-max-cost": "0.0000000001"})
    assert costly.status_code == 400
    assert costly.json()["error"]["code"] == "max_cost_exceeded"
    wrong_method = await client.get("/v1/embeddings")
    assert wrong_method.status_code == 405


async def test_keys_are_required_when_configured(sim: Simulator) -> None:
    locked = config(sim.base_url, governance={"master_key": "sk-master-test"})
    async with running(GatewayApp(Gateway(parse_config(locked)))) as client:
        refused = await client.post("/v1/embeddings", json={"model": "small", "input": "x"})
        allowed = await client.post("/v1/embeddings", json={"model": "small", "input": "x"},
                                    headers={"authorization": "Bearer sk-master-test"})
    assert refused.status_code == 401
    assert allowed.status_code == 200
