"""Placeholder for the Anthropic adapter (being written)."""

from __future__ import annotations

from typing import ClassVar

from .base import Profile
from .openai import OpenAIAdapter

__all__ = ["AnthropicAdapter"]


class AnthropicAdapter(OpenAIAdapter):
    protocol: ClassVar[str] = "anthropic"
    default_profile: ClassVar[Profile] = Profile()
