"""What a route may say about how its deployments are chosen and ordered, and the checks that keep it coherent.

These are the configuration shapes :mod:`switchyard.config` embeds in ``routes.<name>`` and the top-level
``routing:`` section. They import nothing of ours but the error tree, so the configuration can use them without a
cycle; :func:`check_route` is called by the configuration loader and names the offending key in every error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Literal, get_args

import msgspec

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import ModelConfig, RouteConfig

__all__ = [
    "STRATEGIES",
    "ArmConfig",
    "ExperimentConfig",
    "LatencyConfig",
    "PromptVariant",
    "RouteStrategy",
    "RoutingConfig",
    "check_model",
    "check_route",
    "route_members",
]

RouteStrategy = Literal[
    "priority", "weighted", "least-busy", "latency", "cost", "quality", "usage", "classify", "strong_weak"
]
STRATEGIES: tuple[str, ...] = get_args(RouteStrategy)

# Strategies whose candidates come from their own lists (tasks, strong/weak) rather than ``targets``.
_OWN_LISTS = ("classify", "strong_weak")


class LatencyConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    percentile: float | None = None
    """Rank by this percentile of recent latencies (``0.9``) instead of their moving average."""
    explore: float = 0.05
    """Share of requests that go first to a random other candidate, so that a deployment which was slow once is
    measured again instead of being starved of traffic (and of fresh statistics) for ever."""


class ArmConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    targets: list[str]
    """Replace the route's ``targets`` for requests assigned to this arm; ``fallbacks`` still follow."""


class ExperimentConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    arms: dict[str, ArmConfig]
    weights: dict[str, float] = msgspec.field(default_factory=dict)
    """Share of traffic per arm (any scale: ``{a: 90, b: 10}``); arms not named get 0, none named: equal."""
    sticky: Literal["user", "key", "none"] = "user"
    """Assign by a hash of the user (falling back to the key) or of the key, so that one caller always sees the
    same arm; ``none``, or a request with neither, is assigned at random."""


class PromptVariant(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """A system prompt for one target only: ``system`` replaces the request's, ``system_prefix`` goes before it."""

    system: str | None = None
    system_prefix: str | None = None


class RoutingConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """The top-level ``routing:`` section: settings shared by every route."""

    tags: dict[str, list[str]] = msgspec.field(default_factory=dict)
    """What a request tag demands of a deployment: ``{private: [local]}`` sends requests tagged ``private`` only to
    deployments tagged ``local``. A tag not listed here demands itself; ``[]`` demands nothing."""
    affinity_ttl_s: float = 600.0
    """How long a user or session stays with its deployment after its last request (provider prompt caches last
    minutes, so longer buys little)."""
    affinity_max: int = 100_000
    feedback_ttl_s: float = 3600.0
    """How long a response of an experiment can receive feedback (``POST /v1/feedback``)."""
    feedback_max: int = 50_000
    """Response ids remembered for feedback, two per response (request id, body id): about 200 bytes each."""
    classifier_threads: int = 2
    """Threads for the classifiers' CPU work (embeddings), shared by every route, so the event loop never waits."""

    def __post_init__(self) -> None:
        if self.affinity_ttl_s <= 0 or self.feedback_ttl_s <= 0:
            raise ValueError("affinity_ttl_s and feedback_ttl_s must be positive")
        if self.affinity_max < 1 or self.feedback_max < 1 or self.classifier_threads < 1:
            raise ValueError("affinity_max, feedback_max and classifier_threads must be at least 1")


def route_members(route: RouteConfig) -> dict[str, None]:
    """Every deployment a route may send to, first mention first (an ordered set)."""
    names: list[str] = [*route.targets, *route.default, *route.strong, *route.weak]
    for models in route.tasks.values():
        names.extend(models)
    if route.experiment is not None:
        for arm in route.experiment.arms.values():
            names.extend(arm.targets)
    names.extend(route.fallbacks)
    return dict.fromkeys(names)


def _known(models: Iterable[str], known: Mapping[str, ModelConfig], key: str) -> None:
    for i, member in enumerate(models):
        if member not in known:
            raise ConfigError(f"unknown model '{member}'", key=f"{key}[{i}]")


def _weights(weights: Mapping[str, float], allowed: Iterable[str], key: str, what: str) -> None:
    allowed = set(allowed)
    for name, weight in weights.items():
        if name not in allowed:
            raise ConfigError(f"not one of the {what} ({', '.join(sorted(allowed))})", key=f"{key}.{name}")
        if weight < 0:
            raise ConfigError("must not be negative", key=f"{key}.{name}")
    if weights and not any(weights.values()):
        raise ConfigError("at least one weight must be positive", key=key)


def check_model(name: str, model: ModelConfig) -> None:
    """Raise :class:`ConfigError` naming the key when a model's routing metadata is out of range."""
    where = f"models.{name}"
    if model.weight < 0:
        raise ConfigError("must not be negative", key=f"{where}.weight")
    for field, limit in (("rpm", model.rpm), ("tpm", model.tpm)):
        if limit is not None and limit <= 0:
            raise ConfigError("must be positive", key=f"{where}.{field}")
    for i, tag in enumerate(model.tags):
        if not tag.strip() or "," in tag:
            raise ConfigError("a tag is a non-empty word without commas", key=f"{where}.tags[{i}]")


def check_route(name: str, route: RouteConfig, models: Mapping[str, ModelConfig]) -> None:
    """Raise :class:`ConfigError` naming the key when ``route``'s routing settings are inconsistent."""
    where = f"routes.{name}"
    strategy = route.strategy
    for task, members in route.tasks.items():
        if not members:
            raise ConfigError("a task needs at least one model", key=f"{where}.tasks.{task}")
        _known(members, models, f"{where}.tasks.{task}")
    _known(route.default, models, f"{where}.default")
    _known(route.strong, models, f"{where}.strong")
    _known(route.weak, models, f"{where}.weak")
    if strategy == "classify":
        if not (route.tasks and (route.default or route.targets)):
            raise ConfigError("strategy classify needs `tasks` and a `default` (or `targets`) list", key=where)
        from .classify import TASKS

        for task in route.tasks:
            if task not in TASKS and task not in route.examples:
                raise ConfigError(f"the classifier knows {', '.join(TASKS)}; give `examples` for another task",
                                  key=f"{where}.tasks.{task}")
    if route.min_confidence is not None and not 0 <= route.min_confidence <= 1:
        raise ConfigError("must be between 0 and 1", key=f"{where}.min_confidence")
    for task in route.examples:
        if task not in route.tasks:
            raise ConfigError(f"no task '{task}' in tasks", key=f"{where}.examples.{task}")
    if strategy == "strong_weak" and not (route.strong and route.weak):
        raise ConfigError("strategy strong_weak needs `strong` and `weak` lists", key=where)
    if not 0 <= route.threshold <= 1:
        raise ConfigError("must be between 0 and 1", key=f"{where}.threshold")
    _weights(route.weights, route.targets, f"{where}.weights", "targets")
    latency = route.latency
    if latency.percentile is not None and not 0 < latency.percentile <= 1:
        raise ConfigError("must be in (0, 1]", key=f"{where}.latency.percentile")
    if not 0 <= latency.explore < 1:
        raise ConfigError("must be in [0, 1)", key=f"{where}.latency.explore")
    experiment = route.experiment
    if experiment is not None:
        if strategy in _OWN_LISTS:
            raise ConfigError(f"an experiment cannot split a {strategy} route (arms replace targets)", key=where)
        if not experiment.arms:
            raise ConfigError("an experiment needs at least one arm", key=f"{where}.experiment.arms")
        for arm, spec in experiment.arms.items():
            if not spec.targets:
                raise ConfigError("an arm needs at least one target", key=f"{where}.experiment.arms.{arm}.targets")
            _known(spec.targets, models, f"{where}.experiment.arms.{arm}.targets")
        _weights(experiment.weights, experiment.arms, f"{where}.experiment.weights", "arms")
    sends_to = route_members(route)
    for target, variant in route.prompts.items():
        if target not in sends_to:
            raise ConfigError("not a model this route sends to", key=f"{where}.prompts.{target}")
        if (variant.system is None) == (variant.system_prefix is None):
            raise ConfigError("give exactly one of `system` or `system_prefix`", key=f"{where}.prompts.{target}")
