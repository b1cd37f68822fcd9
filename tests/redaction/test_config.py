"""The ``redaction:`` section: off without it, on with it, validated at load time with errors naming the place."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard import parse_config
from switchyard.errors import ConfigError
from switchyard.redaction import ENTITIES
from tests.conftest import sim_config


def test_off_without_the_section_and_on_with_an_empty_one() -> None:
    assert not parse_config(sim_config("http://127.0.0.1:1")).redaction.enabled
    assert not parse_config(sim_config("http://127.0.0.1:1", redaction=None)).redaction.enabled
    section = parse_config(sim_config("http://127.0.0.1:1", redaction={})).redaction
    assert (section.enabled, tuple(section.entities), section.restore) == (True, ENTITIES, True)


def test_a_route_section_replaces_the_global_one() -> None:
    config = parse_config(sim_config("http://127.0.0.1:1", redaction={"entities": ["email"]}, routes={
        "r": {"targets": ["gpt"], "redaction": {"custom": [{"name": "acct", "pattern": r"ACCT-\d+"}]}},
    }))
    route = config.routes["r"].redaction
    assert route is not None
    # Not merged: the route's section lists no entities, so it gets the defaults, not the global ["email"].
    assert (route.entities, route.custom[0].name) == (list(ENTITIES), "acct")
    assert config.redaction.entities == ["email"]


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        ({"routes": {"eu": {"targets": ["gpt"], "redaction": {"custom": [{"name": "acct", "pattern": "(ACCT"}]}}}},
         "routes.eu.redaction", "custom[0] 'acct': pattern '(ACCT' is not a regular expression"),
        ({"redaction": {"custom": [{"name": "any", "pattern": "x*"}]}}, "redaction", "matches the empty string"),
        ({"redaction": {"custom": [{"name": "Email", "pattern": "x"}]}}, "redaction", "already taken"),
        ({"redaction": {"custom": [{"name": "a", "pattern": "x"}, {"name": "A", "pattern": "y"}]}}, "redaction",
         "already taken"),
        ({"redaction": {"custom": [{"name": "1st", "pattern": "x"}]}}, "redaction", "a name is a letter"),
        ({"redaction": {"entities": ["passport"]}}, "redaction.entities[0]", "passport"),
        ({"redaction": {"entities": ["email", "email"]}}, "redaction", "twice"),
        ({"redaction": {"restore": "yes"}}, "redaction.restore", "Expected `bool`"),
        ({"redaction": {"mask": True}}, "redaction", "mask"),
    ],
)
def test_bad_sections_are_errors_naming_the_place(extra: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(sim_config("http://127.0.0.1:1", **extra))
    assert caught.value.key == key
    assert message in str(caught.value)
