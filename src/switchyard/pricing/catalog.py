"""The model catalog: prices, windows and capabilities per provider, from ``data/catalog.yaml``.

A look-up takes the provider ``type:`` and the model id as the upstream knows it, and forgives the usual spellings:
dated snapshots (``gpt-4o-2024-08-06``, ``claude-sonnet-4-5-20250929``, ``gemini-2.0-flash-001``), ``-latest``,
Gemini's ``models/`` prefix, Vertex's ``@20251001``, dotted Claude versions (``claude-sonnet-4.5``) and a vendor
prefix (``openai/gpt-4o``). An exact entry always wins over a stripped one, so a snapshot with its own price
(``gpt-4o-2024-05-13``) is listed and found as itself. OpenRouter ids (``anthropic/claude-sonnet-4.5``) resolve
through the vendor's section, because OpenRouter bills the vendor's list price.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import yaml

from ..errors import ConfigError
from .info import Capabilities, LongContextPrice, ModelInfo, Price

__all__ = ["Catalog", "Section"]

_Money = Annotated[float, msgspec.Meta(ge=0)]
_Tokens = Annotated[int, msgspec.Meta(gt=0)]
_Capability = Literal["tools", "vision", "json_schema", "streaming", "reasoning"]


class _Tier(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    above: _Tokens
    input: _Money
    output: _Money
    cached_input: _Money | None = None


class _Entry(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    input: _Money | None = None
    output: _Money | None = None
    cached_input: _Money | None = None
    cache_write: _Money | None = None
    long_context: _Tier | None = None
    price: Literal["unknown"] | None = None
    context_window: _Tokens | None = None
    max_output_tokens: _Tokens | None = None
    capabilities: list[_Capability] = msgspec.field(default_factory=list)
    kind: Literal["chat", "embedding"] = "chat"


class _Section(msgspec.Struct, forbid_unknown_fields=True):
    source: list[str]
    as_of: str
    models: dict[str, _Entry]
    aliases: dict[str, str] = msgspec.field(default_factory=dict)
    default: _Entry | None = None


class _File(msgspec.Struct, forbid_unknown_fields=True):
    providers: dict[str, _Section]


@dataclass(frozen=True, slots=True)
class Section:
    """One provider's part of the catalog."""

    name: str
    sources: tuple[str, ...]
    as_of: str
    models: Mapping[str, ModelInfo]
    """Keyed by lower-cased model id."""
    aliases: Mapping[str, str]
    default: ModelInfo | None
    """What every model of this section gets when it has no entry (local servers: a known $0)."""


# Which catalog sections answer for each provider ``type:`` (providers/presets.py). ``openai_compatible`` has
# none: it could be anything, so its prices are unknown unless configured.
_SECTIONS: Mapping[str, tuple[str, ...]] = {
    "openai": ("openai",),
    "azure": ("openai",),
    "azure_ai": ("openai",),
    "anthropic": ("anthropic",),
    "gemini": ("gemini",),
    "groq": ("groq",),
    "xai": ("xai",),
    "mistral": ("mistral",),
    "deepseek": ("deepseek",),
    "together": ("together",),
    "vllm": ("local",),
    "ollama": ("local",),
}

# Vendor prefixes as OpenRouter (and LiteLLM-style model names) spell them → catalog section.
_VENDORS: Mapping[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google": "gemini",
    "gemini": "gemini",
    "x-ai": "xai",
    "xai": "xai",
    "mistralai": "mistral",
    "mistral": "mistral",
    "deepseek": "deepseek",
    "groq": "groq",
    "together": "together",
    "together_ai": "together",
}

# Tried in order, repeatedly, after the exact id: each strips one spelling of a snapshot or alias suffix.
_SUFFIXES = (
    re.compile(r"-latest$"),
    re.compile(r"-v\d+:\d+$"),  # Bedrock-style "-v1:0"
    re.compile(r"-\d{4}-\d{2}-\d{2}$"),  # OpenAI snapshots
    re.compile(r"-\d{8}$"),  # Anthropic snapshots
    re.compile(r"-\d{4}$"),  # older OpenAI and xAI snapshots ("-0613", "-0709")
    re.compile(r"-\d{3}$"),  # Gemini versions ("-001")
)

_FREE = Price(0.0, 0.0)


def _entry_info(entry: _Entry, catalog_id: str, where: str) -> ModelInfo:
    if entry.price == "unknown":
        if entry.input is not None or entry.output is not None:
            raise ConfigError("an entry with `price: unknown` cannot give input/output prices", key=where)
        price = None
    else:
        if entry.input is None or entry.output is None:
            raise ConfigError("needs input and output prices (or `price: unknown`)", key=where)
        tier = entry.long_context
        price = Price(
            entry.input,
            entry.output,
            entry.cached_input,
            entry.cache_write,
            LongContextPrice(tier.above, tier.input, tier.output, tier.cached_input) if tier else None,
        )
    flags = set(entry.capabilities)
    capabilities = Capabilities(**{name: name in flags for name in Capabilities.__dataclass_fields__})
    return ModelInfo(price, entry.context_window, entry.max_output_tokens, capabilities, entry.kind, catalog_id)


def _unknown_capabilities(info: ModelInfo) -> ModelInfo:
    # A section default knows the price, not what an arbitrary model of that server can do.
    return replace(info, capabilities=Capabilities())


def _strip_suffixes(name: str) -> Iterator[str]:
    changed = True
    while changed:
        changed = False
        for pattern in _SUFFIXES:
            stripped = pattern.sub("", name)
            if stripped != name:
                name = stripped
                changed = True
                yield name
                break


def _spellings(model: str) -> Iterator[str]:
    name = model.strip().lower()
    name = name.removeprefix("models/").partition("@")[0]
    if name.startswith("claude"):
        name = name.replace(".", "-")
    yield name
    yield from _strip_suffixes(name)


class Catalog:
    """Prices, windows and capabilities of known models. :meth:`bundled` is the one shipped with Switchyard."""

    def __init__(self, sections: Mapping[str, Section]) -> None:
        self.sections = dict(sections)

    @classmethod
    def bundled(cls) -> Catalog:
        """The catalog in ``switchyard/data/catalog.yaml``, read once per process."""
        return _bundled()

    @classmethod
    def from_file(cls, path: str | Path) -> Catalog:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read catalog {path}: {exc.strerror}") from exc
        return cls.from_yaml(text, origin=str(path))

    @classmethod
    def from_yaml(cls, text: str, *, origin: str = "catalog") -> Catalog:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            data = yaml.load(text, Loader=loader)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{origin} is not valid YAML: {exc}") from exc
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Any) -> Catalog:
        try:
            parsed = msgspec.convert(data, _File)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"invalid catalog: {exc}", key="catalog") from exc
        sections: dict[str, Section] = {}
        for name, raw in parsed.providers.items():
            models: dict[str, ModelInfo] = {}
            for model_id, entry in raw.models.items():
                key = model_id.lower()
                if key in models:
                    raise ConfigError("listed twice (ids are case-insensitive)", key=f"catalog.{name}.{model_id}")
                models[key] = _entry_info(entry, f"{name}/{model_id}", f"catalog.{name}.{model_id}")
            aliases = {alias.lower(): target.lower() for alias, target in raw.aliases.items()}
            for alias, target in aliases.items():
                if target not in models:
                    raise ConfigError(f"alias of unknown model '{target}'", key=f"catalog.{name}.aliases.{alias}")
            default = None
            if raw.default is not None:
                default = _unknown_capabilities(_entry_info(raw.default, f"{name}/*", f"catalog.{name}.default"))
            sections[name] = Section(name, tuple(raw.source), raw.as_of, models, aliases, default)
        return cls(sections)

    def entries(self) -> Iterator[tuple[Section, str, ModelInfo]]:
        """Every catalogued model: ``(section, model id, info)``."""
        for section in self.sections.values():
            for model_id, info in section.models.items():
                yield section, model_id, info

    def lookup(self, provider_type: str, model: str) -> ModelInfo | None:
        """The catalog's entry for ``model`` served by a provider of ``provider_type``; ``None`` if unknown."""
        if provider_type == "openrouter":
            return self._lookup_openrouter(model)
        names = _SECTIONS.get(provider_type, ())
        for name in names:
            found = self._find(name, model)
            if found is not None:
                return found
        vendor, sep, rest = model.partition("/")
        if sep and _VENDORS.get(vendor.strip().lower()) in names:
            # "openai/gpt-4o" sent to OpenAI itself (a LiteLLM habit): the prefix names the provider it is sent to.
            return self.lookup(provider_type, rest)
        for name in names:
            section = self.sections.get(name)
            if section is not None and section.default is not None:
                return section.default
        return None

    def _find(self, section_name: str, model: str) -> ModelInfo | None:
        section = self.sections.get(section_name)
        if section is None:
            return None
        for spelling in _spellings(model):
            info = section.models.get(spelling)
            if info is None and spelling in section.aliases:
                info = section.models[section.aliases[spelling]]
            if info is not None:
                return info
        return None

    def _lookup_openrouter(self, model: str) -> ModelInfo | None:
        base, _, variant = model.partition(":")
        vendor, sep, rest = base.partition("/")
        section = _VENDORS.get(vendor.strip().lower()) if sep else None
        info = self._find(section, rest) if section is not None else None
        if info is None:
            return None
        if not variant:
            return info
        # ":free" is free; other variants (":nitro", ":floor"...) are served by other hosts at other prices.
        return replace(info, price=_FREE if variant.strip().lower() == "free" else None)


@cache
def _bundled() -> Catalog:
    text = resources.files("switchyard").joinpath("data/catalog.yaml").read_text(encoding="utf-8")
    return Catalog.from_yaml(text, origin="switchyard/data/catalog.yaml")
