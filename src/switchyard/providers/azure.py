"""Azure OpenAI: OpenAI's wire format behind deployment URLs
(``{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...``, ``.../embeddings?...``) and an
``api-key`` header. The configured model is the deployment name."""

from __future__ import annotations

from typing import Any, ClassVar

from ..embedding_types import EmbeddingRequest
from ..types import ChatRequest
from .base import Deployment
from .openai import OpenAIAdapter
from .transport import UpstreamRequest

__all__ = ["AzureOpenAIAdapter"]


class AzureOpenAIAdapter(OpenAIAdapter):
    protocol: ClassVar[str] = "azure"

    def _build_request(self, request: ChatRequest, deployment: Deployment, *, stream: bool) -> UpstreamRequest:
        body: dict[str, Any] = self._build_body(request, deployment, stream=stream)
        # The deployment in the path selects the model; Azure ignores (older API versions reject) "model".
        body.pop("model", None)
        url = self._url(
            f"/openai/deployments/{deployment.model}/chat/completions", {"api-version": self.api_version or ""}
        )
        return UpstreamRequest("POST", url, self.headers, self._encode(body), deployment.timeout)

    def _build_embeddings_request(self, request: EmbeddingRequest, deployment: Deployment) -> UpstreamRequest:
        body = self._build_embeddings_body(request, deployment)
        body.pop("model", None)
        url = self._url(f"/openai/deployments/{deployment.model}/embeddings", {"api-version": self.api_version or ""})
        return UpstreamRequest("POST", url, self.headers, self._encode(body), deployment.timeout)
