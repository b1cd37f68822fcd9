"""Routing configuration: every inconsistency is an error naming its key."""

from __future__ import annotations

from typing import Any

import pytest
from tests.routing.helpers import MODELS, config

from switchyard import ConfigError, parse_config


def load(routes: dict[str, Any], **extra: Any) -> None:
    parse_config(config(routes, **extra), env={})


@pytest.mark.parametrize(
    ("routes", "key", "message"),
    [
        ({"r": {"strategy": "fastest", "targets": ["mini"]}}, "routes.r.strategy", "Invalid enum value 'fastest'"),
        ({"r": {"strategy": "weighted", "targets": ["mini"], "weights": {"nano": 1}}}, "routes.r.weights.nano",
         "not one of the targets"),
        ({"r": {"strategy": "weighted", "targets": ["mini"], "weights": {"mini": -1}}}, "routes.r.weights.mini",
         "must not be negative"),
        ({"r": {"strategy": "weighted", "targets": ["mini"], "weights": {"mini": 0}}}, "routes.r.weights",
         "at least one weight must be positive"),
        ({"r": {"strategy": "classify", "tasks": {"code": ["mini", "gpt-9"]}, "default": ["nano"]}},
         "routes.r.tasks.code[1]", "unknown model 'gpt-9'"),
        ({"r": {"strategy": "classify", "tasks": {"code": ["mini"]}}}, "routes.r",
         "needs `tasks` and a `default`"),
        ({"r": {"strategy": "classify", "tasks": {"coding": ["mini"]}, "default": ["nano"],
                "examples": {"poetry": ["a sonnet please"]}}}, "routes.r.examples.poetry", "no task 'poetry'"),
        ({"r": {"strategy": "classify", "tasks": {"poetry": ["mini"]}, "default": ["nano"]}},
         "routes.r.tasks.poetry", "give `examples` for another task"),
        ({"r": {"strategy": "classify", "tasks": {"math": ["mini"]}, "default": ["nano"], "min_confidence": 2}},
         "routes.r.min_confidence", "between 0 and 1"),
        ({"r": {"strategy": "strong_weak", "strong": ["opus"]}}, "routes.r", "needs `strong` and `weak`"),
        ({"r": {"strategy": "strong_weak", "strong": ["opus"], "weak": ["mini"], "threshold": 1.5}},
         "routes.r.threshold", "between 0 and 1"),
        ({"r": {"strategy": "latency", "targets": ["mini"], "latency": {"explore": 1}}},
         "routes.r.latency.explore", "[0, 1)"),
        ({"r": {"strategy": "latency", "targets": ["mini"], "latency": {"percentile": 0}}},
         "routes.r.latency.percentile", "(0, 1]"),
        ({"r": {"experiment": {"arms": {"a": {"targets": ["mini"]}, "b": {"targets": ["nope"]}}}}},
         "routes.r.experiment.arms.b.targets[0]", "unknown model 'nope'"),
        ({"r": {"experiment": {"arms": {"a": {"targets": ["mini"]}}, "weights": {"c": 1}}}},
         "routes.r.experiment.weights.c", "not one of the arms"),
        ({"r": {"experiment": {"arms": {"a": {"targets": []}}}}}, "routes.r.experiment.arms.a.targets",
         "at least one target"),
        ({"r": {"strategy": "strong_weak", "strong": ["opus"], "weak": ["mini"],
                "experiment": {"arms": {"a": {"targets": ["mini"]}}}}}, "routes.r", "cannot split a strong_weak"),
        ({"r": {"targets": ["mini"], "prompts": {"opus": {"system": "x"}}}}, "routes.r.prompts.opus",
         "not a model this route sends to"),
        ({"r": {"targets": ["mini"], "prompts": {"mini": {"system": "x", "system_prefix": "y"}}}},
         "routes.r.prompts.mini", "exactly one of"),
        ({"r": {"targets": ["mini"], "affinity": "team"}}, "routes.r.affinity", "Invalid enum value 'team'"),
        ({"r": {}}, "routes.r.targets", "a route needs at least one target"),
    ],
)
def test_route_errors_name_the_key(routes: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(routes)
    assert caught.value.key == key
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("field", "value", "key", "message"),
    [
        ("weight", -1, "models.mini.weight", "must not be negative"),
        ("rpm", 0, "models.mini.rpm", "must be positive"),
        ("tags", ["a,b"], "models.mini.tags[0]", "without commas"),
        ("quality", "high", "models.mini.quality", "Expected `float | null`"),
    ],
)
def test_model_routing_metadata_errors_name_the_key(field: str, value: Any, key: str, message: str) -> None:
    models = {**MODELS, "mini": {**MODELS["mini"], field: value}}
    with pytest.raises(ConfigError) as caught:
        load({}, models=models)
    assert caught.value.key == key
    assert message in caught.value.message


def test_routing_section_is_checked() -> None:
    with pytest.raises(ConfigError) as caught:
        load({}, routing={"affinity_ttl_s": 0})
    assert caught.value.key == "routing"
    with pytest.raises(ConfigError) as caught:
        load({}, routing={"tag_rules": {}})
    assert caught.value.message == "routing: Object contains unknown field `tag_rules`"


def test_a_full_routing_configuration_loads() -> None:
    parsed = parse_config(config({
        "by-task": {"strategy": "classify", "tasks": {"coding": ["sonnet", "mini"], "math": ["o3m"]},
                    "default": ["mini"], "examples": {"coding": ["fix this stack trace"]}, "min_confidence": 0.6,
                    "affinity": "session", "prompts": {"o3m": {"system_prefix": "Think step by step."}}},
        "ab": {"targets": ["mini"], "experiment": {"arms": {"control": {"targets": ["mini"]},
                                                           "cheap": {"targets": ["nano"]}},
                                                  "weights": {"control": 90, "cheap": 10}, "sticky": "key"}},
        "sw": {"strategy": "strong_weak", "strong": ["opus"], "weak": ["mini"], "threshold": 0.3},
        "fast": {"strategy": "latency", "targets": ["mini", "nano"], "latency": {"percentile": 0.9, "explore": 0.1}},
    }, routing={"tags": {"private": ["local"]}, "affinity_ttl_s": 300}), env={})
    assert parsed.routes["by-task"].tasks["coding"] == ["sonnet", "mini"]
    assert parsed.routes["ab"].experiment is not None
    assert parsed.routes["ab"].experiment.weights == {"control": 90, "cheap": 10}
    assert parsed.routing.tags == {"private": ["local"]}
