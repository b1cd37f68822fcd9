"""Placeholder, replaced by the full simulated anthropic provider."""

from __future__ import annotations

from typing import ClassVar

from .openai import OpenAISim


class AnthropicSim(OpenAISim):
    name: ClassVar[str] = "anthropic"

    def routes(self):  # type: ignore[no-untyped-def]
        return []
