"""Per-target prompt variants: a route may give one deployment its own system prompt (``system``) or put text
before the request's (``system_prefix``), for models that need different instructions to behave alike.

The variant rides on the deployment itself: :class:`PromptedDeployment` is a :class:`Deployment` whose ``chat``
and ``stream`` rewrite the request on the way out. The executor, fallback, hedging and stream continuation all
call deployments, so each candidate gets its own prompt without any of them knowing about variants, and the
variants are built once at start-up (nothing on the hot path unless a variant applies).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

import msgspec

from ..providers.base import Deployment
from ..types import ChatChunk, ChatRequest, ChatResponse, Message, TextPart
from .spec import PromptVariant

__all__ = ["PromptedDeployment", "apply_variant"]


def apply_variant(variant: PromptVariant, request: ChatRequest) -> ChatRequest:
    """A copy of ``request`` with the variant's system prompt; the caller's request is left as it was."""
    messages = request.messages
    if variant.system is not None:
        rest = [m for m in messages if m.role != "system"]
        return msgspec.structs.replace(request, messages=[Message.system(variant.system), *rest])
    prefix = variant.system_prefix or ""
    if messages and messages[0].role == "system":
        first = messages[0]
        content = [TextPart(f"{prefix}\n\n{first.text}")] if first.text else [TextPart(prefix)]
        return msgspec.structs.replace(
            request, messages=[msgspec.structs.replace(first, content=content), *messages[1:]]
        )
    return msgspec.structs.replace(request, messages=[Message.system(prefix), *messages])


@dataclass(frozen=True, slots=True)
class PromptedDeployment(Deployment):
    """A deployment as one route uses it: same name, limits, breaker and statistics, its own system prompt."""

    variant: PromptVariant | None = None

    @classmethod
    def wrap(cls, deployment: Deployment, variant: PromptVariant) -> PromptedDeployment:
        return cls(
            name=deployment.name, provider=deployment.provider, model=deployment.model, adapter=deployment.adapter,
            profile=deployment.profile, timeout=deployment.timeout, max_output_tokens=deployment.max_output_tokens,
            context_window=deployment.context_window, mode=deployment.mode, variant=variant,
        )

    async def chat(self, request: ChatRequest) -> ChatResponse:
        assert self.variant is not None
        return await self.adapter.chat(apply_variant(self.variant, request), self)

    def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        assert self.variant is not None
        return self.adapter.stream(apply_variant(self.variant, request), self)
