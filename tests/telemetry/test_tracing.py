"""Tracing with the real OpenTelemetry SDK: spans read back from its in-memory exporter, and the OTLP/HTTP export
received by a local collector stand-in."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from switchyard import ChatRequest, EmbeddingRequest, Gateway, Message, parse_config
from switchyard.errors import AllAttemptsFailedError
from switchyard.simulator import Simulator
from tests.conftest import sim_config

from .conftest import Collector


def traced(sim: Simulator, collector: Collector, **extra: Any) -> tuple[Gateway, InMemorySpanExporter]:
    tracing = {"enabled": True, "otlp_endpoint": collector.url, "service_name": "switchyard-test"}
    gateway = Gateway(parse_config(sim_config(sim.base_url, telemetry={"tracing": tracing}, **extra)))
    exporter = InMemorySpanExporter()
    assert gateway.telemetry.tracing is not None
    gateway.telemetry.tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
    return gateway, exporter


def children(spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    found = [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]
    return sorted(found, key=lambda s: s.start_time or 0)


async def test_a_request_span_with_a_child_per_attempt(sim: Simulator, collector: Collector) -> None:
    sim.set_faults("openai:gpt-flaky", {"error_rate": 1.0, "error_status": 503})
    gateway, exporter = traced(sim, collector)
    async with gateway:
        request = ChatRequest(model="chain", messages=[Message.user("hello")], max_tokens=50, temperature=0.3)
        response = await gateway.chat(request)
    assert response.meta is not None
    assert response.usage is not None
    spans = exporter.get_finished_spans()
    (root,) = [s for s in spans if s.parent is None]
    assert root.name == "chat chain"
    assert root.kind == SpanKind.SERVER
    attributes = dict(root.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "chain"
    assert attributes["gen_ai.request.max_tokens"] == 50
    assert attributes["gen_ai.request.temperature"] == 0.3
    assert attributes["gen_ai.system"] == "anthropic"
    assert attributes["gen_ai.response.model"] == response.model
    assert attributes["gen_ai.usage.input_tokens"] == response.usage.input_tokens
    assert attributes["gen_ai.usage.output_tokens"] == response.usage.output_tokens
    assert attributes["switchyard.deployment"] == "claude"
    assert attributes["switchyard.attempts"] == 3
    assert attributes["switchyard.request_id"] == response.meta.request_id

    attempts = children(spans, root)
    assert [s.attributes["switchyard.deployment"] for s in attempts if s.attributes] == ["dead", "flaky", "claude"]
    assert all(s.kind == SpanKind.CLIENT and s.context.trace_id == root.context.trace_id for s in attempts)
    dead, flaky, claude = (dict(s.attributes or {}) for s in attempts)
    assert dead["error.type"] == flaky["error.type"] == "UpstreamUnavailableError"
    assert flaky["http.response.status_code"] == 503
    assert attempts[0].status.status_code == StatusCode.ERROR
    assert claude["gen_ai.system"] == "anthropic"
    assert claude["gen_ai.request.model"] == "claude-sonnet-4-6"
    assert claude["gen_ai.usage.output_tokens"] == response.usage.output_tokens
    assert attempts[2].status.status_code == StatusCode.UNSET

    # The OTLP exporter sent the same spans to the collector (flushed when the gateway closed).
    assert {"chat chain", "chat gpt-4o", "chat gpt-flaky", "chat claude-sonnet-4-6"} <= set(collector.span_names())
    resource = collector.received[0].resource_spans[0].resource
    assert any(a.key == "service.name" and a.value.string_value == "switchyard-test" for a in resource.attributes)


async def test_streams_and_failures_are_traced(sim: Simulator, collector: Collector) -> None:
    gateway, exporter = traced(sim, collector)
    async with gateway:
        stream = await gateway.stream(ChatRequest(model="gemini", messages=[Message.user("hi")], stream=True))
        text = "".join([chunk.text or "" async for chunk in stream])
        sim.set_faults("openai:gpt-flaky", {"error_rate": 1.0, "error_status": 500})
        with pytest.raises(AllAttemptsFailedError):
            await gateway.chat(ChatRequest(model="only-dead", messages=[Message.user("hi")]))
    assert text
    roots = {s.name: s for s in exporter.get_finished_spans() if s.parent is None}
    streamed = dict(roots["chat gemini"].attributes or {})
    assert streamed["switchyard.stream"] is True
    assert streamed["gen_ai.system"] == "gcp.gemini"
    assert streamed["gen_ai.usage.output_tokens"] > 0
    (attempt,) = children(exporter.get_finished_spans(), roots["chat gemini"])
    assert (attempt.attributes or {})["gen_ai.response.model"]
    failed = roots["chat only-dead"]
    assert failed.status.status_code == StatusCode.ERROR
    assert (failed.attributes or {})["error.type"] == "AllAttemptsFailedError"
    assert len(children(exporter.get_finished_spans(), failed)) >= 2


async def test_embeddings_are_traced_as_embeddings(sim: Simulator, collector: Collector) -> None:
    models = {"emb": {"provider": "openai", "model": "text-embedding-3-small"}}
    gateway, exporter = traced(sim, collector, models={**sim_config(sim.base_url)["models"], **models})
    async with gateway:
        response = await gateway.embed(EmbeddingRequest(model="emb", input=["one", "two"]))
    assert response.usage is not None
    spans = exporter.get_finished_spans()
    (root,) = [s for s in spans if s.parent is None]
    # GenAI semantic conventions: the operation is "embeddings", in the attribute and the span name.
    assert root.name == "embeddings emb"
    attributes = dict(root.attributes or {})
    assert attributes["gen_ai.operation.name"] == "embeddings"
    assert attributes["gen_ai.usage.input_tokens"] == response.usage.input_tokens
    # The routing view's placeholders (no messages, max_tokens=0) are not the request's parameters.
    assert "gen_ai.request.max_tokens" not in attributes
    assert "switchyard.stream" not in attributes
    (attempt,) = children(spans, root)
    assert attempt.name == "embeddings text-embedding-3-small"
    attempt_attributes = dict(attempt.attributes or {})
    assert attempt_attributes["gen_ai.operation.name"] == "embeddings"
    assert attempt_attributes["gen_ai.response.model"] == response.model
    assert attempt_attributes["gen_ai.usage.input_tokens"] == response.usage.input_tokens


async def test_tracing_is_off_by_default(gateway: Gateway) -> None:
    assert gateway.telemetry.tracing is None
    assert gateway.executor.on_attempt is None
