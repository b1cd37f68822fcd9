"""Redaction in the pipeline, against the simulator (which echoes the last user turn): the provider never sees the
personal data, the client gets it back (plain and streamed, OpenAI and Anthropic wire formats), the cache holds
placeholders only and serves each user their own data, and the server says how many items it replaced."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson

from switchyard import ChatRequest, Gateway, GatewayApp, Message, parse_config
from switchyard.providers.transport import AiohttpTransport, UpstreamRequest, UpstreamResponse
from switchyard.simulator import Simulator
from switchyard.types import TextPart, ToolCall
from tests.conftest import running, sim_config

JO = "jo@example.com"
JO_PHONE = "+44 20 7946 0958"
AL = "al@example.org"


class Recording:
    """The real transport, keeping every request body sent upstream: what the provider saw."""

    def __init__(self) -> None:
        self.inner = AiohttpTransport()
        self.bodies: list[bytes] = []

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        self.bodies.append(request.body or b"")
        return await self.inner.send(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def saw(self, text: str) -> bool:
        needle = text.encode()
        return any(needle in body for body in self.bodies)


@contextlib.asynccontextmanager
async def gateway(sim: Simulator, **extra: Any) -> AsyncIterator[tuple[Gateway, Recording]]:
    transport = Recording()
    extra.setdefault("redaction", {})
    async with Gateway(parse_config(sim_config(sim.base_url, **extra)), transport=transport) as gw:
        yield gw, transport


def ask(text: str, model: str = "gpt", **fields: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message.user(text)], **fields)


async def test_the_provider_sees_placeholders_and_the_client_the_originals(sim: Simulator) -> None:
    async with gateway(sim) as (gw, upstream):
        request = ask(f"Mail {JO} or call {JO_PHONE}; {JO} is the account.")
        response = await gw.chat(request)
    assert response.text == f"gpt-4o-mini says: Mail {JO} or call {JO_PHONE}; {JO} is the account."
    assert response.meta is not None
    assert response.meta.redacted == 3
    assert not upstream.saw(JO)
    assert not upstream.saw(JO_PHONE)
    assert upstream.saw("Mail <EMAIL_1> or call <PHONE_1>; <EMAIL_1> is the account.")
    assert request.messages[0].text.startswith(f"Mail {JO}")  # the caller's request is left alone


async def test_streams_are_restored_on_every_wire_format(sim: Simulator) -> None:
    async with gateway(sim) as (gw, upstream):
        for model in ("gpt", "claude", "gemini"):
            stream = await gw.stream(ask(f"Please write to {JO} about card 4111 1111 1111 1111", model, stream=True))
            text = "".join([c.text or "" async for c in stream])
            assert text.endswith(f"says: Please write to {JO} about card 4111 1111 1111 1111"), (model, text)
            assert stream.meta.redacted == 2
    assert not upstream.saw(JO)
    assert not upstream.saw("4111")
    assert len(upstream.bodies) == 3


async def test_restore_off_leaves_the_placeholders_to_the_client(sim: Simulator) -> None:
    async with gateway(sim, redaction={"restore": False}) as (gw, _):
        response = await gw.chat(ask(f"Mail {JO}"))
        stream = await gw.stream(ask(f"Mail {JO}", stream=True))
        streamed = "".join([c.text or "" async for c in stream])
    assert response.text == "gpt-4o-mini says: Mail <EMAIL_1>"
    assert streamed == "gpt-4o-mini says: Mail <EMAIL_1>"


async def test_routes_choose_the_policy(sim: Simulator) -> None:
    routes = {"private": {"targets": ["gpt"]}, "open": {"targets": ["gpt"], "redaction": {"enabled": False}}}
    async with gateway(sim, routes=routes) as (gw, upstream):
        private = await gw.chat(ask(f"Mail {JO}", "private"))
        assert not upstream.saw(JO)
        opened = await gw.chat(ask(f"Mail {JO}", "open"))
        assert upstream.saw(JO)
    assert private.meta is not None
    assert private.meta.redacted == 1
    assert opened.meta is not None
    assert opened.meta.redacted is None
    assert private.text.endswith(JO)
    assert opened.text.endswith(JO)


async def test_tool_results_and_calls_are_redacted_as_json(sim: Simulator) -> None:
    request = ChatRequest(model="gpt", messages=[
        Message.user("Who is the customer?"),
        Message(role="assistant", tool_calls=[ToolCall("c1", "crm", orjson.dumps({"phone": JO_PHONE}).decode())]),
        Message(role="tool", tool_call_id="c1", content=[TextPart(orjson.dumps({"email": JO, "id": 7}).decode())]),
    ])
    async with gateway(sim) as (gw, upstream):
        response = await gw.chat(request)
    assert not upstream.saw(JO)
    assert not upstream.saw(JO_PHONE)
    sent = orjson.loads(upstream.bodies[0])["messages"]
    assert orjson.loads(sent[1]["tool_calls"][0]["function"]["arguments"]) == {"phone": "<PHONE_1>"}
    assert orjson.loads(sent[2]["content"]) == {"email": "<EMAIL_1>", "id": 7}
    assert JO in response.text  # the simulator quotes the tool result; the client gets the original back


async def test_the_cache_holds_placeholders_and_serves_each_user_their_own_data(sim: Simulator) -> None:
    cache = {"enabled": True, "namespace_by": "global"}
    async with gateway(sim, cache=cache) as (gw, upstream):
        assert gw.cache is not None
        first = await gw.chat(ask(f"Draft a reply to {JO}"))
        await gw.cache.flush()
        await asyncio.sleep(0.05)
        second = await gw.chat(ask(f"Draft a reply to {AL}"))
        streamed = await gw.stream(ask(f"Draft a reply to {AL}", stream=True))
        replayed = "".join([c.text or "" async for c in streamed])
        # What the cache stores, read back from its backend: placeholders only, no one's address.
        blobs = b"".join(blob for blob, _ in gw.cache.backend._entries.values())  # type: ignore[attr-defined]
    assert first.meta is not None
    assert second.meta is not None
    assert (first.meta.cache, second.meta.cache, streamed.meta.cache) == ("miss", "hit", "hit")
    assert len(upstream.bodies) == 1
    assert first.text == f"gpt-4o-mini says: Draft a reply to {JO}"
    assert second.text == f"gpt-4o-mini says: Draft a reply to {AL}"
    assert replayed == second.text
    assert b"<EMAIL_1>" in blobs
    assert JO.encode() not in blobs
    assert AL.encode() not in blobs


async def test_a_streamed_answer_is_cached_with_placeholders(sim: Simulator) -> None:
    async with gateway(sim, cache={"enabled": True, "namespace_by": "global"}) as (gw, upstream):
        assert gw.cache is not None
        stream = await gw.stream(ask(f"Call {JO_PHONE}", stream=True))
        first = "".join([c.text or "" async for c in stream])
        await gw.cache.flush()
        await asyncio.sleep(0.05)
        again = await gw.chat(ask("Call +1 (555) 123-4567"))
        blobs = b"".join(blob for blob, _ in gw.cache.backend._entries.values())  # type: ignore[attr-defined]
    assert first == f"gpt-4o-mini says: Call {JO_PHONE}"
    assert again.meta is not None
    assert again.meta.cache == "hit"
    assert again.text == "gpt-4o-mini says: Call +1 (555) 123-4567"
    assert len(upstream.bodies) == 1
    assert b"<PHONE_1>" in blobs
    assert b"7946" not in blobs


async def test_the_server_sends_the_count_header_and_restored_bodies(sim: Simulator) -> None:
    config = parse_config(sim_config(sim.base_url, redaction={}))
    body = {"model": "gpt", "messages": [{"role": "user", "content": f"Mail {JO} from 10.1.2.3"}]}
    async with running(GatewayApp(Gateway(config))) as client:
        plain = await client.post("/v1/chat/completions", json=body)
        streamed = await client.post("/v1/chat/completions", json={**body, "stream": True})
        hello = {**body, "messages": [{"role": "user", "content": "hi"}]}
        clean = await client.post("/v1/chat/completions", json=hello)
    assert plain.headers["x-switchyard-redacted"] == "2"
    assert plain.json()["choices"][0]["message"]["content"] == f"gpt-4o-mini says: Mail {JO} from 10.1.2.3"
    assert streamed.headers["x-switchyard-redacted"] == "2"
    events = [orjson.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")]
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert text == f"gpt-4o-mini says: Mail {JO} from 10.1.2.3"
    assert clean.headers["x-switchyard-redacted"] == "0"


async def test_logged_bodies_hold_placeholders(sim: Simulator, caplog: Any) -> None:
    import logging

    from switchyard.telemetry.logs import REQUEST_LOGGER

    with caplog.at_level(logging.INFO, logger=REQUEST_LOGGER):
        async with gateway(sim, telemetry={"log_bodies": True}) as (gw, _):
            response = await gw.chat(ask(f"Mail {JO}"))
    assert response.text.endswith(JO)
    (record,) = [r for r in caplog.records if r.name == REQUEST_LOGGER]
    logged = orjson.dumps(record.switchyard).decode()
    assert JO not in logged
    assert "<EMAIL_1>" in logged
