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
from typing import Annotated, Any, Literal, TypeVar

import msgspec
import yaml

from .errors import ConfigError
from .governance.records import BudgetSpec
from .redaction.config import RedactionConfig
from .routing.spec import (
    ExperimentConfig,
    LatencyConfig,
    PromptVariant,
    RouteStrategy,
    RoutingConfig,
    check_model,
    check_route,
)
from .telemetry.config import TelemetryConfig, TracingConfig
from .types import Mode

__all__ = [
    "AlertsConfig",
    "BreakerPolicy",
    "BudgetConfig",
    "CacheConfig",
    "CacheSkipConfig",
    "Config",
    "GovernanceConfig",
    "HealthConfig",
    "HedgeConfig",
    "LedgerConfig",
    "ModelConfig",
    "PriceOverride",
    "ProviderConfig",
    "RateLimitConfig",
    "RedactionConfig",
    "ResilienceConfig",
    "RetryPolicy",
    "RouteCacheConfig",
    "RouteConfig",
    "Secret",
    "ServerConfig",
    "StateConfig",
    "TelemetryConfig",
    "TierConfig",
    "Timeouts",
    "TracingConfig",
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
    first_token: float | None = None
    """Streams: the longest wait for the first chunk (default: ``read``). A hung upstream is abandoned, and the
    request falls back, this soon."""


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


class PriceOverride(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """USD per 1M tokens; replaces the catalog's price for the deployment as a whole."""

    input_per_mtok: Annotated[float, msgspec.Meta(ge=0)]
    output_per_mtok: Annotated[float, msgspec.Meta(ge=0)]
    cached_input_per_mtok: Annotated[float, msgspec.Meta(ge=0)] | None = None
    """``None``: cached prompt tokens cost the full input price."""


class ModelConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    provider: str
    model: str
    """The upstream model id (for Azure OpenAI: the deployment name)."""
    max_output_tokens: int | None = None
    """Default ``max_tokens`` where the provider requires one (Anthropic) and the request sets none."""
    timeout: Timeouts | None = None
    context_window: int | None = None
    """Tokens of prompt plus answer the model takes. Known windows let a request that was too long for one model
    fall back only to models with a larger window."""
    capabilities: dict[str, bool] = msgspec.field(default_factory=dict)
    """Overrides of the provider profile's capability flags (``vision: false``, ``tools: false``...)."""
    rpm: int | None = None
    """The provider's own limits for this deployment: the gateway stops sending before the provider 429s."""
    tpm: int | None = None
    pricing: PriceOverride | None = None
    """Overrides the bundled catalog's price (negotiated rates, regional deployments, models it does not know)."""
    base_model: str | None = None
    """The catalog id to price and size this deployment by when ``model`` is not one (Azure deployment names)."""
    tags: list[str] = msgspec.field(default_factory=list)
    """Routing tags (``local``, ``eu``): requests carrying tags go only to deployments that satisfy them."""
    quality: float | None = None
    """A quality score (any scale, higher is better) for routes with ``strategy: quality``."""
    weight: float = 1.0
    """Share of traffic under ``strategy: weighted`` unless the route's ``weights`` says otherwise."""
    mode: Mode | None = None
    """What the deployment serves: chat completions or ``/v1/embeddings``. Default: the catalog's kind for the
    model, else ``embedding`` when its id says ``embed`` (``nomic-embed-text``), else ``chat``."""


class RetryPolicy(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """How often one deployment is tried again, per error class, before the walk moves on for good."""

    max_attempts: int = 6
    """Upstream calls for one request, every candidate and retry together."""
    timeout: int = 1
    server_error: int = 2
    """Retries after a 5xx, a reset connection or a malformed answer, with exponential backoff and full jitter."""
    rate_limit: int = 1
    """Retries after a 429, taken only once the other candidates have been tried, after its ``Retry-After``."""
    backoff_base_s: float = 0.1
    backoff_max_s: float = 2.0
    retry_after_cap_s: float = 5.0
    """A longer ``Retry-After`` is not waited for: the deployment is left for this request."""


class BreakerPolicy(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    failures: int = 3
    """Open after this many failures in a row..."""
    window_s: float = 60.0
    error_rate: float = 0.5
    """...or when, within ``window_s``, at least ``min_requests`` calls were made and this share of them failed."""
    min_requests: int = 10
    cooldown_s: float = 30.0
    """How long an open breaker stays open before it admits one probe."""
    probe_timeout_s: float = 60.0
    """A probe that never reports back (its caller went away) frees the half-open slot after this long."""


class HedgeConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Send the request to the next candidate too when the first has not answered (first chunk, for streams)
    within ``delay_ms`` or, with ``percentile``, the deployment's recent latency at that percentile."""

    delay_ms: float = 500.0
    percentile: float | None = None
    """e.g. ``0.95``: hedge after the deployment's recent p95; ``delay_ms`` until enough samples exist."""


class TierConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """A budget tier: serves while at least ``min_remaining`` of the tightest hard budget is left."""

    min_remaining: float
    targets: list[str]
    name: str | None = None
    """Shown in ``x-switchyard-tier`` (default: ``tier0``, ``tier1``...)."""


class RouteCacheConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """A route's own cache settings, over the ``cache:`` section's."""

    enabled: bool = True
    semantic: bool = False
    """Also answer paraphrases of a cached question (same context, similar last user turn)."""
    ttl_s: float | None = None
    """Default: ``cache.ttl_s``."""

    def __post_init__(self) -> None:
        if self.ttl_s is not None and self.ttl_s <= 0:
            raise ValueError("ttl_s must be positive")


class RouteConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    targets: list[str] = msgspec.field(default_factory=list)
    fallbacks: list[str] = msgspec.field(default_factory=list)
    strategy: RouteStrategy = "priority"
    """How candidates are ordered: ``priority`` (as listed), ``weighted``, ``least-busy``, ``latency``, ``cost``,
    ``quality``, ``usage`` (RPM/TPM headroom), ``classify`` (by task) or ``strong_weak``."""
    weights: dict[str, float] = msgspec.field(default_factory=dict)
    """``weighted``: share per target (default: each model's ``weight``)."""
    latency: LatencyConfig = msgspec.field(default_factory=LatencyConfig)
    tasks: dict[str, list[str]] = msgspec.field(default_factory=dict)
    """``classify``: task → models, best first (``{coding: [a, b], math: [c]}``)."""
    default: list[str] = msgspec.field(default_factory=list)
    """``classify``: models for requests of no known task or a low-confidence guess (default: ``targets``)."""
    examples: dict[str, list[str]] = msgspec.field(default_factory=dict)
    """``classify``: example prompts per task, added to the classifier's own."""
    min_confidence: float | None = None
    """``classify``: below this the route's ``default`` serves (default: the classifier's own threshold)."""
    strong: list[str] = msgspec.field(default_factory=list)
    weak: list[str] = msgspec.field(default_factory=list)
    threshold: float = 0.5
    """``strong_weak``: requests the learned router scores at or above this go to ``strong``, others to ``weak``."""
    experiment: ExperimentConfig | None = None
    """An A/B split of ``targets`` into arms, with per-arm statistics (``switchyard experiments``)."""
    affinity: Literal["user", "session"] | None = None
    """Keep a user (or ``x-switchyard-session``) on one deployment while it is healthy: warm prompt caches."""
    prompts: dict[str, PromptVariant] = msgspec.field(default_factory=dict)
    """A system prompt per target, applied only to what that deployment is sent."""
    retry: RetryPolicy | None = None
    """Default: ``resilience.retry``."""
    deadline_s: float | None = None
    fallback_on_content_filter: bool | None = None
    stream_continue: bool = False
    """When a stream breaks after output was sent, continue it on the next candidate, with the partial answer as
    an assistant prefix, instead of ending it with an error event."""
    hedge: HedgeConfig | None = None
    tiers: list[TierConfig] = msgspec.field(default_factory=list)
    """Budget-tier routing, best tier first (e.g. >80 % left → quality, >20 % → balanced, else cheapest). With
    tiers, ``targets`` is not used for plain requests; critical requests always get the first tier."""
    on_exhausted: Literal["reject"] = "reject"
    """What happens when every budget tier is used up."""
    cache: RouteCacheConfig | None = None
    redaction: RedactionConfig | None = None
    """This route's own ``redaction:`` section, instead of the global one (``{enabled: false}`` turns it off)."""


class HealthConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    probe_interval_s: float = 0.0
    """Active probes: a one-token request to every deployment this often (0: passive statistics only). Probes
    are billed like any request."""
    probe_timeout_s: float = 10.0


class ResilienceConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    fallbacks: list[str] = msgspec.field(default_factory=list)
    """The default chain: tried after a route's (or a model's) own candidates."""
    retry: RetryPolicy = msgspec.field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = msgspec.field(default_factory=BreakerPolicy)
    deadline_s: float = 300.0
    """Bounds the whole walk over candidates, retries and backoff of one request (to the first chunk, for
    streams)."""
    fallback_on_content_filter: bool = False
    """Off by default: another provider answering what one refused is a policy decision."""
    health: HealthConfig = msgspec.field(default_factory=HealthConfig)


class RateLimitConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    rpm: int | None = None
    tpm: int | None = None


class BudgetConfig(BudgetSpec, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A budget in the configuration. ``scope`` says what it counts: ``global``, or per ``team``, ``user``,
    ``feature``, ``provider``, ``route`` or ``key``. With ``name`` it is that one member's budget
    (``team: search``); without, every member of the scope gets a budget of this size (each user $5/day)."""

    scope: Literal["global", "key", "team", "user", "feature", "provider", "route"]
    name: str | None = None


class StateConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    backend: Literal["memory", "redis"] = "memory"
    url: Secret = msgspec.field(default_factory=lambda: Secret("redis://127.0.0.1:6379/0"))
    namespace: str = "switchyard"
    hash_tag: str = "sy"
    on_error: Literal["open", "closed"] = "open"
    """Redis unreachable: ``open`` serves without limits (logged, counted); ``closed`` answers 503."""
    timeout_ms: float = 1000.0
    """Per command. Loopback answers take well under a millisecond; this only bounds a wedged server."""
    max_connections: int = 32


class GovernanceConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    master_key: Secret | None = None
    """Admin API credential. Virtual keys are managed with it."""
    auth: Literal["auto", "required", "open"] = "auto"
    """``auto``: require a key once a master key is set or any virtual key exists; ``open``: never (loudly)."""
    timezone: str = "UTC"
    """Calendar windows (daily, monthly budgets) start at midnight here."""
    budgets: list[BudgetConfig] = msgspec.field(default_factory=list)
    key_limits: RateLimitConfig = msgspec.field(default_factory=RateLimitConfig)
    """Default RPM/TPM for every virtual key that sets none."""
    model_limits: dict[str, RateLimitConfig] = msgspec.field(default_factory=dict)
    """Limits per model or route name clients send, across every key."""
    reserve_output_tokens: int = 4096
    """Reservations assume this many output tokens when the request sets no ``max_tokens`` (capped by the
    model's own maximum): the reservation bounds how far concurrent requests can overshoot a budget."""
    lease_s: float = 900.0
    state: StateConfig = msgspec.field(default_factory=StateConfig)


class CacheSkipConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Requests the cache neither answers nor stores."""

    temperature_above: float | None = 1.0
    """Sampling hotter than the providers' default (1.0) is a request for variety. Not lower: an unset temperature
    means that same default, so a lower threshold would skip ``temperature: 1`` yet cache the identical request
    that leaves it out. ``null``: never skip for temperature."""
    tool_results: bool = True
    """Conversations carrying tool results: live data from agent loops, which rarely repeat exactly."""
    personal_header: str = "x-switchyard-personal"
    """A request with this header (any value but ``0``, ``false``, ``no``) is personal: never cached."""


class CacheConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """The response cache (see :mod:`switchyard.cache`). Off by default: serving stored answers changes what a
    repeated request returns, which a deployment should decide."""

    enabled: bool = False
    backend: Literal["memory", "redis"] = "memory"
    url: Secret = msgspec.field(default_factory=lambda: Secret("redis://127.0.0.1:6379/0"))
    namespace: str = "switchyard"
    hash_tag: str = "sy"
    """Redis keys: ``<namespace>:{<hash_tag>:<tenant digest>}:cache:...`` — one Cluster slot per tenant."""
    timeout_ms: float = 100.0
    """Per Redis command. A slow cache answers "miss" rather than hold the request up."""
    max_bytes: int = 256 * 1024 * 1024
    """The memory backend's bound; least recently used entries go first."""
    max_entry_bytes: int = 1024 * 1024
    """Larger answers are not stored."""
    ttl_s: float = 3600.0
    max_ttl_s: float = 7 * 86400.0
    """Caps ``x-switchyard-cache-ttl``."""
    namespace_by: Literal["key", "team", "global"] = "key"
    """Whose answers a caller may be served: its key's (default), its key's team's, or everyone's."""
    skip: CacheSkipConfig = msgspec.field(default_factory=CacheSkipConfig)
    feedback_evict_at: float = 0.0
    """``POST /v1/feedback`` with a score at or below this removes the cached answer (thumbs 1/0: a 0)."""
    remember: int = 50_000
    """Ids remembered (per replica) so that feedback can find their entries: two per answer stored or served
    (request id, response id), about 300 bytes each."""
    semantic_threshold: float | None = None
    """The verifier score a semantic hit needs (default: the bundled one, chosen for ~1 % false hits on calib;
    lower serves more paraphrases and more wrong answers: ``switchyard eval-cache`` shows the curve)."""

    def __post_init__(self) -> None:
        # ValueError here becomes a ConfigError naming ``cache`` (see _convert); the URL itself is never echoed.
        if self.ttl_s <= 0 or self.max_ttl_s < self.ttl_s or self.timeout_ms <= 0:
            raise ValueError("need ttl_s > 0, max_ttl_s >= ttl_s and timeout_ms > 0")
        if self.max_bytes < 1 or not 0 < self.max_entry_bytes <= self.max_bytes or self.remember < 0:
            raise ValueError("need 0 < max_entry_bytes <= max_bytes and remember >= 0")
        if self.semantic_threshold is not None and not 0 < self.semantic_threshold <= 1:
            raise ValueError("semantic_threshold is a verifier score: 0 < semantic_threshold <= 1")


class ServerConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 4000
    max_body_bytes: int = 16 * 1024 * 1024


class AlertsConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """In-process alert rules (see :mod:`switchyard.alerts`); each alert is logged and POSTed to ``webhooks``."""

    enabled: bool = True
    webhooks: list[Secret] = msgspec.field(default_factory=list)
    """Slack-compatible JSON is POSTed here. URLs often carry tokens, so they are secrets: logs show the host."""
    error_rate: float = 0.05
    """Fires when more than this share of requests failed within ``error_window_s`` (per deployment, global)..."""
    error_window_s: float = 300.0
    min_requests: int = 20
    """...and at least this many requests were made in the window, so that one failure of two does not page."""
    latency_s: float = 10.0
    latency_quantile: float = 0.95
    """Fires when this quantile of latencies in the window exceeds ``latency_s`` (1.0: any single request)."""
    spend_ratio: float = 0.8
    """Share of a budget at which a spend alert fires, for budgets that set no ``alert_at``."""
    repeat_s: float = 3600.0
    """A still-firing alert is sent again this often."""

    def __post_init__(self) -> None:
        # ValueError here becomes a ConfigError naming ``alerts`` (see _convert); webhook URLs are never echoed.
        if not (0 <= self.error_rate < 1 and 0 < self.latency_quantile <= 1 and 0 < self.spend_ratio <= 1):
            raise ValueError("need error_rate in [0, 1), latency_quantile and spend_ratio in (0, 1]")
        if self.error_window_s <= 0 or self.latency_s <= 0 or self.repeat_s <= 0 or self.min_requests < 1:
            raise ValueError("need error_window_s, latency_s, repeat_s > 0 and min_requests >= 1")
        for i, url in enumerate(self.webhooks):
            if url.get().partition("://")[0] not in ("http", "https"):
                raise ValueError(f"webhooks[{i}] must be an http:// or https:// URL")


class LedgerConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """The usage ledger and virtual-key database. ``url``: ``sqlite:///path.db`` (relative to the working
    directory) or ``postgresql://user:password@host:5432/db?schema=name``; it may hold a password, so it is a
    :class:`Secret` and printed only in redacted form."""

    url: Secret = msgspec.field(default_factory=lambda: Secret("sqlite:///switchyard.db"))
    enabled: bool = True
    batch_size: int = 500
    """Rows per database write; a full batch is written at once, a partial one every ``flush_interval_s``."""
    flush_interval_s: float = 0.5
    max_buffer: int = 100_000
    """Rows held in memory while the database is unreachable; beyond this the oldest are dropped (counted)."""
    timezone: str = "UTC"
    """Days in ``switchyard usage --by day`` start at midnight here."""

    def __post_init__(self) -> None:
        # ValueError here becomes a ConfigError naming ``ledger`` (see _convert); the URL itself is never echoed.
        if self.url.get().partition("://")[0] not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("url must start with sqlite:// or postgresql://")
        if self.batch_size < 1 or self.flush_interval_s <= 0 or self.max_buffer < self.batch_size:
            raise ValueError("need batch_size >= 1, flush_interval_s > 0 and max_buffer >= batch_size")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(self.timezone)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"unknown time zone '{self.timezone}'") from exc


class Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    providers: dict[str, ProviderConfig]
    models: dict[str, ModelConfig]
    routes: dict[str, RouteConfig] = msgspec.field(default_factory=dict)
    resilience: ResilienceConfig = msgspec.field(default_factory=ResilienceConfig)
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    governance: GovernanceConfig = msgspec.field(default_factory=GovernanceConfig)
    ledger: LedgerConfig = msgspec.field(default_factory=LedgerConfig)
    alerts: AlertsConfig = msgspec.field(default_factory=AlertsConfig)
    routing: RoutingConfig = msgspec.field(default_factory=RoutingConfig)
    cache: CacheConfig = msgspec.field(default_factory=CacheConfig)
    telemetry: TelemetryConfig = msgspec.field(default_factory=TelemetryConfig)
    redaction: RedactionConfig = msgspec.field(default_factory=lambda: RedactionConfig(enabled=False))
    """Personal data replaced before requests leave (see :mod:`switchyard.redaction`); off without the section."""


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
        check_model(name, model)
    for name, route in config.routes.items():
        if name in config.models:
            raise ConfigError("a route cannot have the same name as a model", key=f"routes.{name}")
        if not route.targets and route.strategy not in ("classify", "strong_weak") and route.experiment is None:
            raise ConfigError("a route needs at least one target", key=f"routes.{name}.targets")
        for field, members in (("targets", route.targets), ("fallbacks", route.fallbacks)):
            for i, member in enumerate(members):
                if member not in config.models:
                    raise ConfigError(f"unknown model '{member}'", key=f"routes.{name}.{field}[{i}]")
        for t, tier in enumerate(route.tiers):
            for i, member in enumerate(tier.targets):
                if member not in config.models:
                    raise ConfigError(f"unknown model '{member}'", key=f"routes.{name}.tiers[{t}].targets[{i}]")
        shares = [tier.min_remaining for tier in route.tiers]
        if shares != sorted(shares, reverse=True) or any(not 0 <= x <= 1 for x in shares):
            raise ConfigError("tiers go best first, min_remaining from 1 down to 0", key=f"routes.{name}.tiers")
        check_route(name, route, config.models)
    for i, member in enumerate(config.resilience.fallbacks):
        if member not in config.models:
            raise ConfigError(f"unknown model '{member}'", key=f"resilience.fallbacks[{i}]")
    _check_governance(config)
    if not 0 < config.server.port < 65536:
        raise ConfigError("must be between 1 and 65535", key="server.port")


def _check_governance(config: Config) -> None:
    governance = config.governance
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(governance.timezone)
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"unknown time zone '{governance.timezone}'", key="governance.timezone") from exc
    for i, budget in enumerate(governance.budgets):
        where = f"governance.budgets[{i}]"
        if budget.limit_usd < 0:
            raise ConfigError("must not be negative", key=f"{where}.limit_usd")
        if budget.scope == "global" and budget.name is not None:
            raise ConfigError("a global budget has no name", key=f"{where}.name")
        if not 0 <= budget.reserved_share < 1 or not 0 < budget.alert_at <= 1:
            raise ConfigError("reserved_share must be in [0, 1) and alert_at in (0, 1]", key=where)
        if budget.window == "rolling" and budget.rolling_s <= 0:
            raise ConfigError("must be positive", key=f"{where}.rolling_s")
    names = set(config.models) | set(config.routes)
    for name in governance.model_limits:
        if name not in names:
            raise ConfigError(f"unknown model or route '{name}'", key=f"governance.model_limits.{name}")


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
        resilience=_convert(data.get("resilience") or {}, ResilienceConfig, "resilience"),
        server=_convert(data.get("server") or {}, ServerConfig, "server"),
        governance=_convert(data.get("governance") or {}, GovernanceConfig, "governance"),
        ledger=_convert(data.get("ledger") or {}, LedgerConfig, "ledger"),
        alerts=_convert(data.get("alerts") or {}, AlertsConfig, "alerts"),
        routing=_convert(data.get("routing") or {}, RoutingConfig, "routing"),
        cache=_convert(data.get("cache") or {}, CacheConfig, "cache"),
        telemetry=_convert(data.get("telemetry") or {}, TelemetryConfig, "telemetry"),
        # Writing the section turns redaction on (its ``enabled`` defaults to true); leaving it out keeps it off.
        redaction=_convert(data["redaction"], RedactionConfig, "redaction")
        if data.get("redaction") is not None else RedactionConfig(enabled=False),
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
