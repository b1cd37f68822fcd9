"""The vault: stable placeholders within a request, and restoring text and JSON."""

from __future__ import annotations

import orjson

from switchyard.redaction import Vault


def test_the_same_value_gets_the_same_placeholder_and_kinds_count_separately() -> None:
    vault = Vault()
    assert vault.placeholder("EMAIL", "a@x.org") == "<EMAIL_1>"
    assert vault.placeholder("PHONE", "+1 555 123 4567") == "<PHONE_1>"
    assert vault.placeholder("EMAIL", "b@x.org") == "<EMAIL_2>"
    assert vault.placeholder("EMAIL", "a@x.org") == "<EMAIL_1>"
    assert len(vault) == 3


def test_replace_counts_mentions_and_restore_inverts_it() -> None:
    vault = Vault()
    text = "a@x.org wrote to b@x.org, then a@x.org again"
    redacted = vault.replace(text, [(0, 7, "EMAIL"), (17, 24, "EMAIL"), (31, 38, "EMAIL")])
    assert redacted == "<EMAIL_1> wrote to <EMAIL_2>, then <EMAIL_1> again"
    assert vault.count == 3
    assert vault.restore_text(redacted) == text


def test_unknown_and_mangled_placeholders_are_left_alone() -> None:
    vault = Vault()
    vault.placeholder("EMAIL", "a@x.org")
    text = "<EMAIL_2>, <email_1>, EMAIL_1, <b>bold</b>"
    assert vault.restore_text(text) == text


def test_json_restoration_escapes_the_original() -> None:
    vault = Vault()
    vault.placeholder("SECRETISH", 'he said "hi"\\')
    restored = vault.restore_json('{"note": "<SECRETISH_1>", "n": 1}')
    assert orjson.loads(restored) == {"note": 'he said "hi"\\', "n": 1}
    assert vault.restore_text("<SECRETISH_1>") == 'he said "hi"\\'


def test_could_start_knows_only_its_own_placeholders() -> None:
    vault = Vault()
    vault.placeholder("EMAIL", "a@x.org")
    assert vault.could_start("<")
    assert vault.could_start("<EMA")
    assert vault.could_start("<EMAIL_")
    assert not vault.could_start("<EMAIL_1>x")
    assert not vault.could_start("<PH")
    assert not vault.could_start("<b")
