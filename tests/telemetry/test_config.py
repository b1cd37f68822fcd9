"""The ``telemetry:`` section: defaults, validation errors naming the key, and credentials kept out of ``repr``."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard import parse_config
from switchyard.errors import ConfigError
from tests.conftest import sim_config


def telemetry(**section: Any) -> Any:
    return parse_config(sim_config("http://127.0.0.1:1", telemetry=section)).telemetry


def test_defaults_metrics_and_request_log_on_bodies_and_tracing_off() -> None:
    settings = telemetry()
    assert (settings.metrics, settings.request_log, settings.log_format) == (True, True, "json")
    assert (settings.log_bodies, settings.tracing.enabled) == (False, False)
    assert settings.tracing.service_name == "switchyard"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"redact_patterns": ["ok", "(unclosed"]}, "redact_patterns[1] is not a regular expression"),
        ({"redact_pii": ["passport"]}, "telemetry.redact_pii"),
        ({"tracing": {"sample_ratio": 1.5}}, "sample_ratio must be between 0 and 1"),
        ({"max_feature_labels": 0}, "max_feature_labels must be at least 1"),
        ({"log_format": "xml"}, "telemetry.log_format"),
        ({"metrix": True}, "telemetry"),
    ],
)
def test_invalid_settings_are_named(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        telemetry(**section)
    assert message in str(raised.value)


def test_collector_headers_never_show_in_repr() -> None:
    settings = telemetry(tracing={"enabled": True, "headers": {"authorization": "Bearer collector-token-123"}})
    assert "collector-token-123" not in repr(settings)
    assert "authorization" in repr(settings.tracing)
