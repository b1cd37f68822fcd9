"""Configuration: validation errors name the offending key; secrets never print."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from switchyard import ConfigError, Gateway, Secret, load_config, parse_config


def minimal(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "providers": {"openai": {"type": "openai", "api_key": "sk-abc"}},
        "models": {"gpt": {"provider": "openai", "model": "gpt-4o-mini"}},
    }
    config.update(overrides)
    return config


def error_of(data: Any, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(data, env=env or {})
    return info.value


def test_minimal_config_gets_defaults() -> None:
    config = parse_config(minimal(), env={})
    assert config.server.port == 4000
    assert config.providers["openai"].timeout.read == 120.0
    assert config.routes == {}


def test_env_interpolation_with_default() -> None:
    data = minimal(providers={"openai": {"type": "openai", "api_key": "${KEY}", "base_url": "${URL:-http://x/v1}"}})
    config = parse_config(data, env={"KEY": "sk-from-env"})
    provider = config.providers["openai"]
    assert provider.api_key == Secret("sk-from-env")
    assert provider.base_url == "http://x/v1"


def test_missing_env_var_names_variable_and_key() -> None:
    data = minimal(providers={"openai": {"type": "openai", "api_key": "${OPENAI_KEY_MISSING}"}})
    assert str(error_of(data)) == "providers.openai.api_key: environment variable OPENAI_KEY_MISSING is not set"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (minimal(models={"gpt": {"provider": "nope", "model": "m"}}), "models.gpt.provider: unknown provider 'nope'"),
        (minimal(models={"gpt": {"provider": "openai"}}), "models.gpt: Object missing required field `model`"),
        (minimal(models={"gpt": {"provider": "openai", "model": 5}}), "models.gpt.model: Expected `str`, got `int`"),
        (minimal(routes={"r": {"targets": ["gpt", "ghost"]}}), "routes.r.targets[1]: unknown model 'ghost'"),
        (minimal(routes={"r": {"targets": []}}), "routes.r.targets: a route needs at least one target"),
        (minimal(routes={"gpt": {"targets": ["gpt"]}}), "routes.gpt: a route cannot have the same name as a model"),
        (minimal(routes={"r": {"targets": ["gpt"], "strategy": "magic"}}), "routes.r.strategy"),
        (minimal(server={"port": 70000}), "server.port: must be between 1 and 65535"),
        (minimal(providers={"openai": {"type": "openai", "colour": "red"}}), "unknown field `colour`"),
        (minimal(providers={}), "providers: at least one provider is required"),
        ([1, 2], "must be a mapping"),
    ],
)
def test_errors_name_the_offending_key(data: Any, message: str) -> None:
    assert message in str(error_of(data))


def test_secrets_do_not_print() -> None:
    config = parse_config(minimal(), env={})
    provider = config.providers["openai"]
    assert "sk-abc" not in repr(provider)
    assert "sk-abc" not in str(config)
    assert provider.api_key is not None
    assert provider.api_key.get() == "sk-abc"


def test_provider_type_and_base_url_are_checked_when_building() -> None:
    with pytest.raises(ConfigError, match=r"providers.x.type: unknown provider type 'bogus' \(known: .*openai"):
        Gateway(parse_config(minimal(
            providers={"x": {"type": "bogus"}}, models={"m": {"provider": "x", "model": "m"}}
        )))
    azure = minimal(providers={"az": {"type": "azure"}}, models={"m": {"provider": "az", "model": "d"}})
    with pytest.raises(ConfigError, match=r"providers\.az\.base_url: provider type 'azure' needs a base_url"):
        Gateway(parse_config(azure))


def test_load_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration file"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("providers: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(bad)
    good = tmp_path / "good.yaml"
    good.write_text(
        "providers:\n  openai: {type: openai, api_key: '${K}'}\nmodels:\n  gpt: {provider: openai, model: gpt-4o}\n"
    )
    assert load_config(good, env={"K": "v"}).models["gpt"].model == "gpt-4o"


def test_bundled_demo_config_is_valid() -> None:
    from importlib import resources

    with resources.as_file(resources.files("switchyard") / "data" / "demo.yaml") as path:
        config = load_config(path, env={"SIM_URL": "http://127.0.0.1:1"})
    Gateway(config)
    assert "resilient" in config.routes


def test_cache_section_defaults_and_checks() -> None:
    config = parse_config(minimal(), env={})
    assert (config.cache.enabled, config.cache.ttl_s, config.cache.namespace_by) == (False, 3600.0, "key")
    assert config.cache.skip.temperature_above == 1.0
    routes = {"r": {"targets": ["gpt"], "cache": {"semantic": True, "ttl_s": 60}}}
    route_cache = parse_config(minimal(routes=routes), env={}).routes["r"].cache
    assert route_cache is not None
    assert (route_cache.semantic, route_cache.ttl_s) == (True, 60.0)
    assert error_of(minimal(cache={"ttl_s": 0})).key == "cache"
    assert error_of(minimal(cache={"max_entry_bytes": 10, "max_bytes": 5})).key == "cache"
    assert error_of(minimal(cache={"backend": "disk"})).key == "cache.backend"
    assert error_of(minimal(routes={"r": {"targets": ["gpt"], "cache": {"ttl_s": -1}}})).key == "routes.r.cache"
    leaked = error_of(minimal(cache={"url": "redis://:hunter2@host/0", "ttl_s": -1}))
    assert "hunter2" not in str(leaked)
