"""Walking a plan: fallback on errors that allow it, stop on errors that don't."""

from __future__ import annotations

import pytest
from tests.conftest import sim_config

from switchyard import (
    AllAttemptsFailedError,
    BadRequestError,
    ChatChunk,
    ChatRequest,
    ContentFilteredError,
    Gateway,
    Message,
    RateLimitedError,
    UnsupportedFeatureError,
    UpstreamUnavailableError,
    parse_config,
)
from switchyard.simulator import Simulator


def ask(model: str, **kwargs: object) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message.user("hello")], **kwargs)  # type: ignore[arg-type]


async def test_falls_back_in_order_and_records_attempts(gateway: Gateway, sim: Simulator) -> None:
    sim.set_faults("openai:gpt-flaky", {"rate_limit_rate": 1.0, "retry_after_s": 3})
    response = await gateway.chat(ask("chain"))
    assert response.meta is not None
    assert response.meta.route == "chain"
    assert [a.deployment for a in response.meta.attempts] == ["dead", "flaky", "claude"]
    assert [a.error is None for a in response.meta.attempts] == [False, False, True]
    assert response.meta.attempts[1].status == 429
    assert response.meta.fallback_used


async def test_error_that_forbids_fallback_ends_the_walk(sim: Simulator) -> None:
    config = sim_config(sim.base_url)
    config["routes"]["filtered"] = {"targets": ["azure-gpt"], "fallbacks": ["gpt"]}
    sim.set_faults("azure", {"content_filter_rate": 1.0})
    async with Gateway(parse_config(config)) as gateway:
        with pytest.raises(ContentFilteredError):
            await gateway.chat(ask("filtered"))
    assert sim.requests.get("openai:gpt-4o-mini") is None


async def test_bad_request_is_not_retried_elsewhere(gateway: Gateway, sim: Simulator) -> None:
    # The simulator rejects unknown message roles as the real API does; the request itself is wrong.
    sim.set_faults("openai:gpt-flaky", {"error_rate": 1.0, "error_status": 400})
    with pytest.raises(BadRequestError):
        await gateway.chat(ask("chain"))
    assert sim.requests.get("anthropic:claude-sonnet-4-6") is None


async def test_retry_after_beyond_the_cap_is_not_waited_for(gateway: Gateway, sim: Simulator) -> None:
    sim.set_faults("openai", {"rate_limit_rate": 1.0, "retry_after_s": 9})
    with pytest.raises(RateLimitedError) as info:
        await gateway.chat(ask("gpt"))
    assert info.value.retry_after == 9
    assert info.value.deployment == "gpt"
    assert sim.requests == {"openai:gpt-4o-mini": 1}


async def test_every_attempt_failing_raises_all_attempts_failed(gateway: Gateway, sim: Simulator) -> None:
    sim.set_faults("openai:gpt-flaky", {"error_rate": 1.0})
    with pytest.raises(AllAttemptsFailedError) as info:
        await gateway.chat(ask("only-dead"))
    # Each failed deployment is retried (server_error: 2) after the others were tried, up to max_attempts (6).
    assert sorted(e.deployment for e in info.value.errors) == ["dead"] * 3 + ["flaky"] * 3
    assert {type(e) for e in info.value.errors} == {UpstreamUnavailableError}
    assert info.value.status_code == 503


async def test_candidates_that_cannot_serve_are_skipped_without_a_call(sim: Simulator) -> None:
    config = sim_config(sim.base_url)
    config["routes"]["biased"] = {"targets": ["claude"], "fallbacks": ["gpt"]}
    async with Gateway(parse_config(config)) as gateway:
        response = await gateway.chat(ask("biased", logit_bias={"1": 1.0}))
        assert response.meta is not None
        assert response.meta.deployment == "gpt"
        assert [a.deployment for a in response.meta.attempts] == ["gpt"]
        with pytest.raises(UnsupportedFeatureError, match="provider 'anthropic'"):
            await gateway.chat(ask("claude", logit_bias={"1": 1.0}))
    assert sim.requests.get("anthropic:claude-sonnet-4-6") is None


async def test_stream_falls_back_before_first_chunk_only(gateway: Gateway, sim: Simulator) -> None:
    sim.set_faults("openai:gpt-flaky", {"error_rate": 1.0})
    stream = await gateway.stream(ask("chain", stream=True))
    text = "".join([c.text or "" async for c in stream])
    assert stream.meta.deployment == "claude"
    assert text == "claude-sonnet-4-6 says: hello"


async def test_stream_failure_after_output_reaches_the_consumer(gateway: Gateway, sim: Simulator) -> None:
    sim.set_faults("openai", {"cut_stream_rate": 1.0, "cut_after_chunks": 2})
    stream = await gateway.stream(ask("gpt", stream=True))
    received: list[ChatChunk] = []

    async def consume() -> None:
        async for chunk in stream:
            received.append(chunk)

    with pytest.raises(UpstreamUnavailableError):
        await consume()
    assert received, "the first chunks arrived before the cut"
    await stream.aclose()


async def test_chat_rejects_stream_requests(gateway: Gateway) -> None:
    with pytest.raises(Exception, match=r"Gateway.stream\(\)"):
        await gateway.chat(ask("gpt", stream=True))
