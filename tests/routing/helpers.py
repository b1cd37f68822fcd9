"""Gateways for routing tests: real configuration, real catalog prices and windows, no network unless a
simulator URL is given."""

from __future__ import annotations

from typing import Any

from switchyard import ChatRequest, Gateway, Message, parse_config

OFFLINE = "http://127.0.0.1:1"

MODELS: dict[str, dict[str, Any]] = {
    "mini": {"provider": "openai", "model": "gpt-4o-mini"},  # $0.15 / $0.60, 128K window
    "nano": {"provider": "openai", "model": "gpt-4.1-nano"},  # $0.10 / $0.40, 1M window
    "o3m": {"provider": "openai", "model": "o3-mini"},  # no vision in the catalog
    "sonnet": {"provider": "anthropic", "model": "claude-sonnet-4-6"},  # $3 / $15
    "opus": {"provider": "anthropic", "model": "claude-opus-4-1"},  # $15 / $75
    "mystery": {"provider": "openai", "model": "acme-unlisted-1"},  # price unknown
    "pro": {"provider": "gemini", "model": "gemini-2.5-pro"},  # $1.25 / $10, $2.50 / $15 past 200K of prompt
    "llama": {"provider": "local", "model": "llama3", "tags": ["local"]},  # a known $0
}


def config(routes: dict[str, Any], *, base_url: str = OFFLINE, models: dict[str, Any] | None = None,
           **extra: Any) -> dict[str, Any]:
    return {
        "providers": {
            "openai": {"type": "openai", "api_key": "sk-test-key", "base_url": f"{base_url}/v1"},
            "anthropic": {"type": "anthropic", "api_key": "ant-test-key", "base_url": base_url},
            "gemini": {"type": "gemini", "api_key": "gem-test-key", "base_url": base_url},
            "local": {"type": "vllm", "api_key": "local-test-key", "base_url": f"{base_url}/v1"},
        },
        "models": models or MODELS,
        "routes": routes,
        **extra,
    }


def gateway(routes: dict[str, Any], **kwargs: Any) -> Gateway:
    return Gateway(parse_config(config(routes, **kwargs), env={}))


def ask(model: str, text: str = "hello there", **fields: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message.user(text)], **fields)


def order(gw: Gateway, request: ChatRequest, **kwargs: Any) -> list[str]:
    return [d.name for d in gw.router.plan(request, **kwargs).candidates]
