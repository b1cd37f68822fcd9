"""OpenTelemetry traces: a span per request and a child span per upstream attempt, with the GenAI semantic
conventions (``gen_ai.operation.name``, ``gen_ai.system``, ``gen_ai.request.model``, ``gen_ai.usage.*``...).

Imported only when ``telemetry.tracing.enabled`` (the SDK is the optional ``tracing`` extra). The gateway's
request span becomes the parent of attempt spans through a context variable set at admission: the walk over
the plan, hedged attempts included, runs in that context (hedges are tasks, which copy it). Each gateway has its
own ``TracerProvider`` rather than installing a global one, so an application embedding the gateway keeps its
own tracing set-up untouched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, Literal

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from ..embedding_types import EmbeddingResponse
from ..errors import SwitchyardError, UpstreamError
from ..types import ChatRequest, ChatResponse
from .config import TracingConfig

if TYPE_CHECKING:
    from ..providers.base import Deployment

__all__ = ["GEN_AI_SYSTEMS", "Operation", "Tracing"]

Operation = Literal["chat", "embeddings"]
"""``gen_ai.operation.name`` values of the semantic conventions that the gateway serves."""

GEN_AI_SYSTEMS: Final = {
    "openai": "openai",
    "azure": "az.ai.openai",
    "azure_ai": "az.ai.inference",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "groq": "groq",
    "xai": "xai",
    "deepseek": "deepseek",
    "mistral": "mistral_ai",
    "ollama": "ollama",
}
"""Provider type → ``gen_ai.system`` value from the semantic conventions; other types are named as they are."""

_REQUEST: ContextVar[Span | None] = ContextVar("switchyard_request_span", default=None)

Attributes = Mapping[str, Any]


class Tracing:
    def __init__(self, config: TracingConfig, systems: dict[str, str]) -> None:
        """``systems`` maps each deployment to its ``gen_ai.system`` value."""
        self.systems = systems
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": config.service_name}),
            sampler=ParentBased(TraceIdRatioBased(config.sample_ratio)),
        )
        # Exports run on the processor's thread, never on the event loop.
        exporter = OTLPSpanExporter(endpoint=config.otlp_endpoint, headers=dict(config.headers) or None)
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("switchyard")
        self._open: dict[tuple[str, int], Span] = {}

    # -- the request span ------------------------------------------------------------------------------------

    def begin(self, request: ChatRequest, member: str, operation: Operation = "chat") -> None:
        """``operation`` is ``embeddings`` for an embeddings request, whose ``request`` is then its routing view
        (no sampling parameters to record)."""
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": request.model,
            "switchyard.request_id": member,
        }
        if operation == "chat":
            attributes["switchyard.stream"] = request.stream
            for name, value in (
                ("gen_ai.request.max_tokens", request.max_tokens),
                ("gen_ai.request.temperature", request.temperature),
                ("gen_ai.request.top_p", request.top_p),
                ("gen_ai.request.seed", request.seed),
            ):
                if value is not None:
                    attributes[name] = value
        span = self.tracer.start_span(f"{operation} {request.model}", kind=SpanKind.SERVER, attributes=attributes)
        key = (member, id(request))
        if key not in self._open:  # the same request object sent twice at once: trace the first only
            self._open[key] = span
            _REQUEST.set(span)

    def trace_id(self, request: ChatRequest, member: str) -> str | None:
        span = self._open.get((member, id(request)))
        return f"{span.get_span_context().trace_id:032x}" if span is not None else None

    def finish(self, request: ChatRequest, member: str, attributes: Attributes, error: BaseException | None) -> None:
        span = self._open.pop((member, id(request)), None)
        if span is None:
            return
        span.set_attributes({k: v for k, v in attributes.items() if v is not None})
        if error is not None:
            _failed(span, error)
        span.end()
        if _REQUEST.get() is span:
            _REQUEST.set(None)

    # -- attempt spans (the executor's hook) -------------------------------------------------------------------

    def attempt(self, deployment: Deployment) -> Callable[[object, BaseException | None], None]:
        parent = _REQUEST.get()
        system = self.systems.get(deployment.name, deployment.provider)
        operation: Operation = "embeddings" if deployment.mode == "embedding" else "chat"
        span = self.tracer.start_span(
            f"{operation} {deployment.model}",
            context=trace.set_span_in_context(parent) if parent is not None else None,
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": operation,
                "gen_ai.system": system,
                "gen_ai.provider.name": system,
                "gen_ai.request.model": deployment.model,
                "switchyard.provider": deployment.provider,
                "switchyard.deployment": deployment.name,
            },
        )

        def ended(result: object, error: BaseException | None) -> None:
            if isinstance(result, ChatResponse):
                span.set_attributes(response_attributes(result))
            elif isinstance(result, EmbeddingResponse):
                span.set_attribute("gen_ai.response.model", result.model)
                if result.usage is not None:
                    span.set_attribute("gen_ai.usage.input_tokens", result.usage.input_tokens)
            else:
                first = getattr(result, "first", None)  # an opened stream: its first chunk names the model
                model = getattr(first, "model", None)
                if isinstance(model, str) and model:
                    span.set_attribute("gen_ai.response.model", model)
            if error is not None:
                _failed(span, error)
            span.end()

        return ended

    async def aclose(self) -> None:
        # Shutdown flushes the queue with a network call: off the event loop.
        await asyncio.to_thread(self.provider.shutdown)


def response_attributes(response: ChatResponse) -> dict[str, Any]:
    attributes: dict[str, Any] = {"gen_ai.response.model": response.model, "gen_ai.response.id": response.id}
    reasons = [c.finish_reason for c in response.choices if c.finish_reason is not None]
    if reasons:
        attributes["gen_ai.response.finish_reasons"] = reasons
    if response.usage is not None:
        attributes["gen_ai.usage.input_tokens"] = response.usage.input_tokens
        attributes["gen_ai.usage.output_tokens"] = response.usage.output_tokens
    return attributes


def _failed(span: Span, error: BaseException) -> None:
    kind = type(error).__name__
    if isinstance(error, asyncio.CancelledError):
        # A hedge that lost, or a client that left: not a failure of the call itself.
        span.set_attribute("error.type", "cancelled")
        return
    span.set_attribute("error.type", kind)
    if isinstance(error, UpstreamError) and error.upstream_status is not None:
        span.set_attribute("http.response.status_code", error.upstream_status)
    # The class, not the message: an upstream's message is the provider's text, not ours to export.
    span.set_status(Status(StatusCode.ERROR, kind if isinstance(error, SwitchyardError) else "error"))
