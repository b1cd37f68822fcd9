"""Builds adapters and deployments from configuration: the ``type:`` of a provider picks its preset."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..config import Config, ProviderConfig, Secret
from ..errors import ConfigError
from ..pricing import resolve
from .base import Adapter, Deployment
from .presets import PRESETS
from .transport import Transport

__all__ = ["build_adapter", "build_deployments"]


def build_adapter(
    name: str, config: ProviderConfig, transport: Transport, env: Mapping[str, str] | None = None
) -> Adapter:
    preset = PRESETS.get(config.type)
    if preset is None:
        raise ConfigError(
            f"unknown provider type '{config.type}' (known: {', '.join(sorted(PRESETS))})",
            key=f"providers.{name}.type",
        )
    if not (config.base_url or preset.base_url):
        raise ConfigError(f"provider type '{config.type}' needs a base_url", key=f"providers.{name}.base_url")
    base_url = config.base_url or ""
    if base_url and not base_url.startswith(("http://", "https://")):
        raise ConfigError("must start with http:// or https://", key=f"providers.{name}.base_url")
    if config.api_key is None and preset.api_key_env:
        # Like the official SDKs: an unset key falls back to the vendor's usual environment variable.
        value = (os.environ if env is None else env).get(preset.api_key_env)
        if value:
            config.api_key = Secret(value)
    return preset.adapter(name, config, preset, transport)


def build_deployments(config: Config, transport: Transport) -> dict[str, Deployment]:
    adapters = {name: build_adapter(name, provider, transport) for name, provider in config.providers.items()}
    return {
        name: Deployment.from_config(
            name, model, adapters[model.provider], mode=resolve(model, config.providers[model.provider].type).kind
        )
        for name, model in config.models.items()
    }
