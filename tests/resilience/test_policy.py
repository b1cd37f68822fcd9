"""Retry and fallback policy per error class, deadlines, breakers, hedging and stream continuation, all against
the real simulator through ``Gateway``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from switchyard import ChatRequest, ContentFilteredError, Gateway, Message, parse_config
from switchyard.errors import (
    AllAttemptsFailedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from switchyard.simulator import Simulator


def config(base_url: str, routes: dict[str, Any], **resilience: Any) -> dict[str, Any]:
    """Three OpenAI-wire deployments on one simulator, told apart by model id (faults are set per model)."""
    models = {
        name: {"provider": "openai", "model": f"model-{name}", "context_window": window}
        for name, window in (("a", 1000), ("b", 8000), ("c", 128000))
    }
    return {
        "providers": {"openai": {"type": "openai", "api_key": "sk-test", "base_url": f"{base_url}/v1",
                                 "timeout": {"read": 0.3, "total": 5}}},
        "models": models,
        "routes": routes,
        "resilience": {"retry": {"backoff_base_s": 0.01, "backoff_max_s": 0.02}, **resilience},
    }


def ask(model: str, text: str = "hello", **fields: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message.user(text)], **fields)


ABC = {"r": {"targets": ["a"], "fallbacks": ["b", "c"]}}


async def test_server_errors_fall_back_first_and_retry_later(sim: Simulator) -> None:
    sim.set_faults("openai:model-a", {"error_rate": 1.0, "error_status": 502})
    sim.set_faults("openai:model-b", {"error_rate": 1.0})
    async with Gateway(parse_config(config(sim.base_url, ABC))) as gw:
        response = await gw.chat(ask("r"))
    assert response.meta is not None
    # The healthy candidate answers at once; the failed ones' retries were never needed.
    assert [a.deployment for a in response.meta.attempts] == ["a", "b", "c"]
    assert sim.requests == {"openai:model-a": 1, "openai:model-b": 1, "openai:model-c": 1}


async def test_server_errors_are_retried_with_backoff_when_nothing_else_is_left(sim: Simulator) -> None:
    sim.set_faults("openai:model-a", {"error_rate": 1.0})
    async with Gateway(parse_config(config(sim.base_url, {}))) as gw:
        with pytest.raises(UpstreamUnavailableError):
            await gw.chat(ask("a"))
    assert sim.requests == {"openai:model-a": 1 + 2}  # server_error: 2 retries by default


async def test_timeout_is_retried_once_then_falls_back(sim: Simulator) -> None:
    sim.set_faults("openai:model-a", {"hang_rate": 1.0, "hang_s": 2})
    async with Gateway(parse_config(config(sim.base_url, ABC))) as gw:
        response = await gw.chat(ask("r"))
    assert response.meta is not None
    assert [(a.deployment, a.status) for a in response.meta.attempts] == [("a", 504), ("b", None)]
    async with Gateway(parse_config(config(sim.base_url, {}))) as gw:
        with pytest.raises(UpstreamTimeoutError):
            await gw.chat(ask("a"))
    # Alone, the hung deployment is tried twice: once, and the one timeout retry.
    assert sim.requests["openai:model-a"] == 1 + 2


async def test_rate_limit_prefers_others_then_honours_retry_after(sim: Simulator) -> None:
    sim.set_faults("openai:model-a", {"rate_limit_rate": 1.0, "retry_after_s": 0.2})
    async with Gateway(parse_config(config(sim.base_url, ABC))) as gw:
        response = await gw.chat(ask("r"))
    assert response.meta is not None
    assert [a.deployment for a in response.meta.attempts] == ["a", "b"]
    sim.set_faults("openai:model-b", {"error_rate": 1.0})
    routes = {"ab": {"targets": ["a", "b"]}}
    cfg = config(sim.base_url, routes, retry={"server_error": 0})
    async with Gateway(parse_config(cfg)) as gw:
        started = time.perf_counter()
        with pytest.raises(AllAttemptsFailedError) as caught:
            await gw.chat(ask("ab"))
        elapsed = time.perf_counter() - started
    # a (429) → b (500) → a again, once its Retry-After has passed.
    assert [e.deployment for e in caught.value.errors] == ["a", "b", "a"]
    assert elapsed >= 0.2


async def test_bad_credentials_open_the_breaker_at_once(sim: Simulator) -> None:
    cfg = config(sim.base_url, ABC)
    cfg["providers"]["bad"] = {"type": "openai", "api_key": "invalid", "base_url": f"{sim.base_url}/v1"}
    cfg["models"]["a"]["provider"] = "bad"
    async with Gateway(parse_config(cfg)) as gw:
        first = await gw.chat(ask("r"))
        second = await gw.chat(ask("r"))
        report = await gw.health_report()
        with pytest.raises(UpstreamUnavailableError, match="circuit breaker open"):
            await gw.chat(ask("a"))  # named directly, it is skipped too: no call while the breaker is open
    assert first.meta is not None
    assert second.meta is not None
    assert [a.deployment for a in first.meta.attempts] == ["a", "b"]
    # Open breaker: the second request goes straight to the fallback, without a call to the bad deployment.
    assert [a.deployment for a in second.meta.attempts] == ["b"]
    assert report["a"]["breaker"] == "open"
    assert report["a"]["failures"] == {"AuthenticationError": 1}


async def test_context_length_falls_back_only_to_larger_windows(sim: Simulator) -> None:
    sim.set_faults("openai:model-a", {"context_window": 5})
    sim.set_faults("openai:model-b", {"context_window": 5})
    routes = {"r": {"targets": ["b"], "fallbacks": ["a", "c"]}}
    async with Gateway(parse_config(config(sim.base_url, routes))) as gw:
        response = await gw.chat(ask("r", "a question longer than five tokens, clearly"))
    assert response.meta is not None
    # b (8k) was too small, so a (1k) is not worth a call; c (128k) answers.
    assert [a.deployment for a in response.meta.attempts] == ["b", "c"]
    assert "openai:model-a" not in sim.requests


@pytest.mark.parametrize("allowed", [False, True])
async def test_content_filter_falls_back_only_when_allowed(sim: Simulator, allowed: bool) -> None:
    sim.set_faults("openai:model-a", {"content_filter_rate": 1.0})
    cfg = config(sim.base_url, {"r": {**ABC["r"], "fallback_on_content_filter": allowed}})
    cfg["providers"]["azure"] = {"type": "azure", "api_key": "k", "base_url": sim.base_url}
    cfg["models"]["a"] = {"provider": "azure", "model": "model-a"}
    sim.set_faults("azure", {"content_filter_rate": 1.0})
    async with Gateway(parse_config(cfg)) as gw:
        if allowed:
            response = await gw.chat(ask("r"))
            assert response.meta is not None
            assert response.meta.deployment == "b"
        else:
            with pytest.raises(ContentFilteredError):
                await gw.chat(ask("r"))
            assert "openai:model-b" not in sim.requests


async def test_deadline_bounds_the_whole_walk(sim: Simulator) -> None:
    sim.set_faults("openai", {"latency": {"ms": 400}})
    cfg = config(sim.base_url, {"r": {**ABC["r"], "deadline_s": 0.25}})
    cfg["providers"]["openai"]["timeout"] = {"read": 5}
    async with Gateway(parse_config(cfg)) as gw:
        started = time.perf_counter()
        with pytest.raises(UpstreamTimeoutError, match=r"deadline of 0\.25s exceeded"):
            await gw.chat(ask("r"))
    assert time.perf_counter() - started < 0.4


async def test_hedge_races_the_next_candidate(sim: Simulator) -> None:
    sim.set_faults("openai:model-a", {"latency": {"ms": 500}})
    routes = {"r": {**ABC["r"], "hedge": {"delay_ms": 50}}}
    async with Gateway(parse_config(config(sim.base_url, routes))) as gw:
        started = time.perf_counter()
        response = await gw.chat(ask("r"))
        elapsed = time.perf_counter() - started
        stream = await gw.stream(ask("r", stream=True))
        text = "".join([c.text or "" async for c in stream])
    assert response.meta is not None
    assert response.meta.deployment == "b"
    assert elapsed < 0.4
    # The slow attempt was sent (and may be billed): it is in the record as the loser.
    assert {(a.deployment, a.error) for a in response.meta.attempts} == {
        ("b", None), ("a", "cancelled: a hedged attempt answered first")
    }
    assert stream.meta.deployment == "b"
    assert text == "model-b says: hello"


async def test_mid_stream_failure_continues_on_the_fallback(sim: Simulator) -> None:
    # One upstream model on two providers (Azure and OpenAI wire), so the continuation is the same model's text.
    cfg = config(sim.base_url, {"r": {"targets": ["a"], "fallbacks": ["b"], "stream_continue": True}})
    cfg["providers"]["azure"] = {"type": "azure", "api_key": "k", "base_url": sim.base_url}
    cfg["models"]["a"] = {"provider": "azure", "model": "model-x"}
    cfg["models"]["b"] = {"provider": "openai", "model": "model-x"}
    sim.set_faults("azure", {"cut_stream_rate": 1.0, "cut_after_chunks": 3})
    question = "one two three four five six seven eight nine ten"
    async with Gateway(parse_config(cfg)) as gw:
        stream = await gw.stream(ask("r", question, stream=True))
        chunks = [c async for c in stream]
    # a sent "model-x says: one two three four " and broke; b continued from there: one answer, no repetition.
    assert "".join(c.text or "" for c in chunks) == f"model-x says: {question}"
    assert [c.role for c in chunks if c.role] == ["assistant"]
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert [(a.deployment, a.error is None) for a in stream.meta.attempts] == [("a", True), ("a", False), ("b", True)]


async def test_mid_stream_failure_without_opt_in_raises(sim: Simulator) -> None:
    sim.set_faults("openai:model-a", {"cut_stream_rate": 1.0, "cut_after_chunks": 3})
    async with Gateway(parse_config(config(sim.base_url, ABC))) as gw:
        stream = await gw.stream(ask("r", "one two three four five six seven", stream=True))
        received: list[str] = []
        with pytest.raises(UpstreamUnavailableError):
            await _drain(stream, received)
    assert "".join(received) == "model-a says: one two three four "
    assert "openai:model-b" not in sim.requests


async def _drain(stream: Any, into: list[str]) -> None:
    async for chunk in stream:
        into.append(chunk.text or "")


async def test_health_report(sim: Simulator) -> None:
    sim.set_faults("openai:model-b", {"error_rate": 1.0})
    async with Gateway(parse_config(config(sim.base_url, {}))) as gw:
        for _ in range(3):
            await gw.chat(ask("a"))
        with pytest.raises(UpstreamUnavailableError):
            await gw.chat(ask("b"))
        report = await gw.health_report()
    assert report["a"]["state"] == "healthy"
    assert report["a"]["successes"] == 3
    assert report["a"]["latency_ms"] > 0
    assert report["a"]["error_rate"] == 0
    assert report["b"]["breaker"] == "open"
    assert report["b"]["error_rate"] == 1.0
    assert report["b"]["failures"] == {"UpstreamUnavailableError": 3}


async def test_active_probes_trip_and_close_breakers(sim: Simulator) -> None:
    cfg = config(sim.base_url, {}, health={"probe_interval_s": 0.05}, breaker={"failures": 2, "cooldown_s": 0.1})
    sim.set_faults("openai:model-b", {"error_rate": 1.0})
    async with Gateway(parse_config(cfg)) as gw:
        await asyncio.sleep(0.3)  # several probe rounds, with no user traffic at all
        tripped = await gw.health_report()
        sim.clear_faults()
        await asyncio.sleep(0.4)  # cooldown, then a probe closes it
        recovered = await gw.health_report()
    assert tripped["b"]["breaker"] in ("open", "half_open")
    assert tripped["a"]["breaker"] == "closed"
    assert tripped["a"]["successes"] >= 2
    assert recovered["b"]["breaker"] == "closed"
    assert sim.requests["openai:model-b"] >= 3
