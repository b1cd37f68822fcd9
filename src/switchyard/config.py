"""Validated configuration: ``providers`` (credentials and endpoints), ``models`` (deployments clients may
name), ``routes`` (named groups of deployments) and ``server`` settings.

Loading is strict: unknown keys and wrong types are errors, and every error names the offending key
(``routes.fast.targets[1]: unknown model 'gpt-5'``). ``${VAR}`` and ``${VAR:-default}`` read the
environment; a missing variable is an error naming both the variable and the key that used it.
Secrets are wrapped in :class:`Secret` so that no ``repr``, log line or error prints them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec
import yaml

from .errors import ConfigError

__all__ = [
    "Config",
    "ModelConfig",
    "ProviderConfig",
    "RouteConfig",
    "Secret",
    "ServerConfig",
    "Timeouts",
    "load_config",
    "parse_config",
]


class Secret:
    """A credential. Its value is only reachable through :meth:`get`; ``repr``/``str`` hide it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class Timeouts(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Seconds. ``read`` bounds the wait for the first byte and for each later chunk of a stream."""

    connect: float = 10.0
    read: float = 120.0
    total: float = 600.0


class ProviderConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    type: str
    """Wire protocol or vendor preset: openai, azure, anthropic, gemini, groq, xai, deepseek, mistral,
    together, openrouter, vllm, ollama, azure_ai, openai_compatible."""
    api_key: Secret | None = None
    base_url: str | None = None
    """Follows the official SDK's convention: OpenAI-style ``.../v1``; Anthropic and Gemini the host."""
    api_version: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    timeout: Timeouts = msgspec.field(default_factory=Timeouts)


class ModelConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    provider: str
    model: str
    """The upstream model id (for Azure OpenAI: the deployment name)."""
    max_output_tokens: int | None = None
    """Default ``max_tokens`` where the provider requires one (Anthropic) and the request sets none."""
    timeout: Timeouts | None = None
    capabilities: dict[str, bool] = msgspec.field(default_factory=dict)
    """Overrides of the provider profile's capability flags (``vision: false``, ``tools: false``...)."""


class RouteConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    targets: list[str]
    fallbacks: list[str] = msgspec.field(default_factory=list)
    strategy: Literal["priority"] = "priority"


class ServerConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 4000
    max_body_bytes: int = 16 * 1024 * 1024


class Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    providers: dict[str, ProviderConfig]
    models: dict[str, ModelConfig]
    routes: dict[str, RouteConfig] = msgspec.field(default_factory=dict)
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)


_T = TypeVar("_T")

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_MSGSPEC_PATH = re.compile(r" - at `\$(.*)`$")


def _interpolate(node: Any, path: str, env: dict[str, str] | os._Environ[str]) -> Any:
    if isinstance(node, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            value = env.get(name)
            if value is None:
                if default is None:
                    raise ConfigError(f"environment variable {name} is not set", key=path or None)
                return default
            return value

        return _ENV_REF.sub(substitute, node)
    if isinstance(node, dict):
        return {k: _interpolate(v, f"{path}.{k}" if path else str(k), env) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, f"{path}[{i}]", env) for i, v in enumerate(node)]
    return node


def _decode_hook(type_: type, obj: Any) -> Any:
    if type_ is Secret:
        if not isinstance(obj, str):
            raise TypeError("expected a string")
        return Secret(obj)
    raise NotImplementedError


def _check_references(config: Config) -> None:
    if not config.providers:
        raise ConfigError("at least one provider is required", key="providers")
    if not config.models:
        raise ConfigError("at least one model is required", key="models")
    for name, model in config.models.items():
        if model.provider not in config.providers:
            known = ", ".join(sorted(config.providers))
            raise ConfigError(f"unknown provider '{model.provider}' (known: {known})", key=f"models.{name}.provider")
    for name, route in config.routes.items():
        if name in config.models:
            raise ConfigError("a route cannot have the same name as a model", key=f"routes.{name}")
        if not route.targets:
            raise ConfigError("a route needs at least one target", key=f"routes.{name}.targets")
        for field, members in (("targets", route.targets), ("fallbacks", route.fallbacks)):
            for i, member in enumerate(members):
                if member not in config.models:
                    raise ConfigError(f"unknown model '{member}'", key=f"routes.{name}.{field}[{i}]")
    if not 0 < config.server.port < 65536:
        raise ConfigError("must be between 1 and 65535", key="server.port")


def _convert(data: Any, type_: type[_T], key: str) -> _T:
    try:
        return msgspec.convert(data, type_, dec_hook=_decode_hook)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _MSGSPEC_PATH.search(message)
        where = f"{key}{match.group(1)}" if match else key
        raise ConfigError(message[: match.start()] if match else message, key=where or None) from exc


def _section(data: dict[str, Any], name: str, type_: type[_T]) -> dict[str, _T]:
    # Converted entry by entry so that errors name the entry (msgspec reports dict keys as "[...]").
    entries = data.get(name) or {}
    if not isinstance(entries, dict):
        raise ConfigError(f"must be a mapping of names to {type_.__name__} entries", key=name)
    return {str(entry): _convert(value, type_, f"{name}.{entry}") for entry, value in entries.items()}


def parse_config(data: Any, *, env: dict[str, str] | None = None) -> Config:
    """Validate a configuration mapping (as read from YAML) into a :class:`Config`."""
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a mapping with providers, models and routes")
    data = _interpolate(data, "", os.environ if env is None else env)
    unknown = set(data) - set(Config.__struct_fields__)
    if unknown:
        known = ", ".join(Config.__struct_fields__)
        raise ConfigError(f"unknown section (known: {known})", key=sorted(unknown)[0])
    config = Config(
        providers=_section(data, "providers", ProviderConfig),
        models=_section(data, "models", ModelConfig),
        routes=_section(data, "routes", RouteConfig),
        server=_convert(data.get("server") or {}, ServerConfig, "server"),
    )
    _check_references(config)
    return config


def load_config(path: str | Path, *, env: dict[str, str] | None = None) -> Config:
    """Read and validate a YAML configuration file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    return parse_config(data, env=env)
