"""Every supported ``type:`` of provider, as data. An OpenAI-compatible vendor is a row here, not a module.

Capability flags follow each vendor's documented OpenAI-compatibility notes; a model's own limits can be
tightened further in config (``models.<name>.capabilities``).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from .anthropic import AnthropicAdapter
from .azure import AzureOpenAIAdapter
from .base import Preset, Profile
from .gemini import GeminiAdapter
from .openai import OpenAIAdapter

__all__ = ["PRESETS"]

# Vendors that implement the OpenAI surface but not its long tail of sampling extras.
_COMPAT = Profile(n=False, logprobs=False, logit_bias=False)

PRESETS: Final = MappingProxyType(
    {
        "openai": Preset(
            OpenAIAdapter,
            "https://api.openai.com/v1",
            "bearer",
            "OPENAI_API_KEY",
            max_tokens_field="max_completion_tokens",
        ),
        "azure": Preset(
            AzureOpenAIAdapter,
            None,
            "api-key",
            "AZURE_OPENAI_API_KEY",
            max_tokens_field="max_completion_tokens",
            default_api_version="2024-10-21",
        ),
        "azure_ai": Preset(
            OpenAIAdapter,
            None,
            "api-key",
            "AZURE_AI_API_KEY",
            query={"api-version": "2024-05-01-preview"},
            profile=Profile(n=False, logit_bias=False, logprobs=False, parallel_tool_calls=False),
        ),
        "groq": Preset(
            OpenAIAdapter,
            "https://api.groq.com/openai/v1",
            "bearer",
            "GROQ_API_KEY",
            profile=Profile(n=False, logprobs=False, logit_bias=False, message_name=False),
        ),
        "xai": Preset(OpenAIAdapter, "https://api.x.ai/v1", "bearer", "XAI_API_KEY", profile=Profile(logit_bias=False)),
        "deepseek": Preset(
            OpenAIAdapter,
            "https://api.deepseek.com/v1",
            "bearer",
            "DEEPSEEK_API_KEY",
            profile=Profile(vision=False, json_schema=False, n=False, seed=False, logit_bias=False),
        ),
        "mistral": Preset(
            OpenAIAdapter,
            "https://api.mistral.ai/v1",
            "bearer",
            "MISTRAL_API_KEY",
            profile=Profile(logprobs=False, logit_bias=False, message_name=False),
            renamed_fields={"seed": "random_seed"},
        ),
        "together": Preset(
            OpenAIAdapter,
            "https://api.together.xyz/v1",
            "bearer",
            "TOGETHER_API_KEY",
            profile=Profile(logit_bias=False),
        ),
        "openrouter": Preset(
            OpenAIAdapter, "https://openrouter.ai/api/v1", "bearer", "OPENROUTER_API_KEY", profile=Profile(n=False)
        ),
        "vllm": Preset(OpenAIAdapter, "http://127.0.0.1:8000/v1", "bearer", "VLLM_API_KEY"),
        "ollama": Preset(
            OpenAIAdapter,
            "http://127.0.0.1:11434/v1",
            "bearer",
            "OLLAMA_API_KEY",
            base_url_suffix="/v1",
            profile=_COMPAT,
        ),
        "openai_compatible": Preset(OpenAIAdapter, None, "bearer", None, profile=_COMPAT),
        "anthropic": Preset(
            AnthropicAdapter,
            "https://api.anthropic.com",
            "x-api-key",
            "ANTHROPIC_API_KEY",
            profile=AnthropicAdapter.default_profile,
        ),
        "gemini": Preset(
            GeminiAdapter,
            "https://generativelanguage.googleapis.com",
            "x-goog-api-key",
            "GEMINI_API_KEY",
            profile=GeminiAdapter.default_profile,
        ),
    }
)
