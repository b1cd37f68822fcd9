"""The ``alerts`` section of the configuration."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard.config import AlertsConfig, ConfigError, Secret, parse_config

BASE: dict[str, Any] = {
    "providers": {"openai": {"type": "openai", "api_key": "sk-test"}},
    "models": {"gpt": {"provider": "openai", "model": "gpt-4o-mini"}},
}


def test_defaults_follow_the_issue() -> None:
    alerts = parse_config(BASE).alerts
    assert alerts == AlertsConfig()
    assert (alerts.error_rate, alerts.error_window_s, alerts.min_requests) == (0.05, 300.0, 20)
    assert (alerts.latency_s, alerts.spend_ratio, alerts.repeat_s, alerts.enabled) == (10.0, 0.8, 3600.0, True)
    assert alerts.webhooks == []


def test_webhooks_are_secrets_and_read_the_environment() -> None:
    url = "https://hooks.example.com/services/T0/B0/tok-SECRET"
    config = parse_config({**BASE, "alerts": {"webhooks": ["${SLACK_WEBHOOK}"]}}, env={"SLACK_WEBHOOK": url})
    assert config.alerts.webhooks == [Secret(url)]
    assert "SECRET" not in repr(config)


@pytest.mark.parametrize(
    ("alerts", "complaint"),
    [
        ({"webhooks": ["ftp://user:SECRET@files.example.com/x"]}, "webhooks[0] must be an http"),
        ({"error_rate": 1.5}, "error_rate"),
        ({"latency_quantile": 0}, "latency_quantile"),
        ({"min_requests": 0}, "min_requests"),
        ({"error_window_s": -1}, "error_window_s"),
        ({"repeat": 60}, "unknown field"),
    ],
)
def test_bad_settings_name_the_section_and_never_echo_a_url(alerts: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ConfigError, match=r"^alerts") as caught:
        parse_config({**BASE, "alerts": alerts})
    assert complaint in str(caught.value)
    assert "SECRET" not in str(caught.value)
