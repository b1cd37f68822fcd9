"""Namespaces (whose answers a caller may be served) and skip rules (which requests the cache leaves alone)."""

from __future__ import annotations

import time

import pytest

from switchyard.cache.policy import CacheControl, Namespace, skip_reason
from switchyard.config import CacheSkipConfig
from switchyard.errors import InvalidRequestError
from switchyard.governance.principal import Principal
from switchyard.governance.records import VirtualKey
from switchyard.types import ChatRequest, Message, TextPart


def key(key_id: str, team: str | None = None) -> VirtualKey:
    return VirtualKey(id=key_id, name=key_id, key_hash="h", display="sk-…", created_at=time.time(), team=team)


def test_the_namespace_comes_from_the_callers_identity() -> None:
    alice, bob = Principal.of(key("k-alice", team="search")), Principal.of(key("k-bob", team="search"))
    assert Namespace.of(alice, "key").base == "key:k-alice"
    assert Namespace.of(alice, "key") != Namespace.of(bob, "key")
    assert Namespace.of(alice, "team") == Namespace.of(bob, "team") == Namespace("team:search")
    assert Namespace.of(Principal.of(key("k-solo")), "team").base == "key:k-solo"  # no team: the key is the tenant
    assert Namespace.of(alice, "global").base == "global"
    assert Namespace.of(Principal(), "key").base == "open"  # a gateway without keys has one tenant


def test_a_request_can_only_narrow_its_namespace() -> None:
    alice = Principal.of(key("k-alice"))
    narrowed = Namespace.of(alice, "key", "key:k-bob")  # an attempt to name another tenant's namespace
    assert narrowed.base == "key:k-alice"
    assert narrowed.name == "key:k-alice/key:k-bob"


def test_namespace_names_round_trip() -> None:
    for name in ("global", "key:k1", "key:k1/user-42"):
        assert Namespace.parse(name).name == name
    for bad in ("", "/x", "key:k1/"):
        with pytest.raises(InvalidRequestError):
            Namespace.parse(bad)


def test_controls_are_validated() -> None:
    with pytest.raises(InvalidRequestError):
        CacheControl(namespace="x" * 129)
    with pytest.raises(InvalidRequestError):
        CacheControl(ttl_s=-1)
    with pytest.raises(InvalidRequestError):
        CacheControl(max_age_s=float("nan"))


def ask(*messages: Message, temperature: float | None = None) -> ChatRequest:
    return ChatRequest(model="m", messages=list(messages) or [Message.user("hi")], temperature=temperature)


def test_skip_rules() -> None:
    rules = CacheSkipConfig()
    none = CacheControl()
    assert skip_reason(ask(), none, rules) is None
    assert skip_reason(ask(temperature=1.0), none, rules) is None  # the default temperature is cached
    assert skip_reason(ask(temperature=1.2), none, rules) == "temperature"
    assert skip_reason(ask(), CacheControl(personal=True), rules) == "personal"
    tool_result = Message(role="tool", tool_call_id="c1", content=[TextPart("22°C")])
    assert skip_reason(ask(Message.user("weather?"), tool_result), none, rules) == "tool-results"
    relaxed = CacheSkipConfig(temperature_above=None, tool_results=False)
    assert skip_reason(ask(Message.user("weather?"), tool_result, temperature=2.0), none, relaxed) is None
