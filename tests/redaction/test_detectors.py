"""The detectors: what each kind finds, the checks that reject look-alikes, and overlap resolution."""

from __future__ import annotations

import itertools

import pytest

from switchyard.redaction import Detector, find, iban_ok, luhn_ok

ALL = Detector(("email", "phone", "card", "iban", "ip"))


def found(text: str, detector: Detector = ALL) -> list[tuple[str, str]]:
    return [(text[s:e], label) for s, e, label in detector(text)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("mail jo@example.com today", "jo@example.com"),
        ("<first.last+tag@mail.example.co.uk>", "first.last+tag@mail.example.co.uk"),
        ("end of sentence a.b@c-d.org.", "a.b@c-d.org"),
        ("mailto:o'brien@example.ie", "o'brien@example.ie"),
    ],
)
def test_email(text: str, value: str) -> None:
    assert found(text) == [(value, "EMAIL")]


@pytest.mark.parametrize("text", ["@username said hi", "user@localhost", "a@b", "price 5@3.50", "x@y.c"])
def test_not_an_email(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    "number",
    [
        "+1 (555) 123-4567", "(591)341-7776", "206.269.0743x9150", "+1-780-563-6083x7783", "555-123-4567",
        "+44(0)115 4960914", "(0161) 4960066", "+49 (0) 9141 777631", "04 15 39 15 00", "+33 (0)1 41 63 60 83",
        "+34 920000806", "(0406)-812415", "12 3915-0008", "06-12-34-56-78", "06.12.34.56.78", "0612345678",
        "0049 30 1234567",
    ],
)
def test_phone(number: str) -> None:
    assert found(f"reach me on {number} please") == [(number, "PHONE")]


@pytest.mark.parametrize(
    "text",
    [
        "on 2024-01-15 at 10:30", "15.01.2024", "01/15/2024", "at 2024-01-15 10:30:45", "order 123456789",
        "ticket 1406609-13", "the epoch 1700000000", "revenue of 1 234 567", "ISBN 0-306-33519-0",
        "ISBN 978-3-16-148410-0", "ssn 123-45-6789", "version 10.20.30.40", "ref 4261 1972 7817 9654",
        "barcode 0004471584335", "short 555-12", "hash 9f86d081884c7d659a2feaea0c55ad015a3bf4b1",
        "uuid 123e4567-e89b-12d3-a456-426614174000",
    ],
)
def test_not_a_phone(text: str) -> None:
    assert [label for _, label in found(text)] == []


def test_a_phone_word_makes_an_ambiguous_number_a_phone() -> None:
    assert found("order 3420837783") == []
    assert found("call 3420837783") == [("3420837783", "PHONE")]
    assert found("Tel.: 555-1234") == [("555-1234", "PHONE")]


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert luhn_ok("79927398713")
    assert not luhn_ok("4111111111111112")
    assert not luhn_ok("79927398710")


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "5555555555554444", "2223003122003222",
        "378282246310005", "6011111111111117", "3530111333300000", "30569309025904", "6200000000000005",
        "4111111111111111110",
    ],
)
def test_card(card: str) -> None:
    assert found(f"paid with {card} yesterday") == [(card, "CARD")]


@pytest.mark.parametrize(
    "text",
    [
        "ref 4111 1111 1111 1112",  # Luhn fails
        "ref 1111 1111 1111 1117",  # Luhn passes, no issuer starts with 1 and has 16 digits
        "ref 3400 0000 0000 0000",  # Amex prefix, Luhn right, but 16 digits: Amex has 15
        "ref 4111 1111-1111 1111",  # separators mixed
        "ref 4111 1111 1111 1111 2",  # runs on into more digits
        "EAN 4006381330060",  # a valid EAN-13 that also passes Luhn, Visa prefix, and no card word
    ],
)
def test_not_a_card(text: str) -> None:
    assert [label for _, label in found(text) if label == "CARD"] == []


def test_a_short_visa_needs_a_card_word() -> None:
    assert found("card 4222222222222") == [("4222222222222", "CARD")]


def test_a_card_word_vouches_for_an_unknown_issuer() -> None:
    # Luhn-valid, but 3515 is outside every issuer range we know (JCB starts at 3528): a card only when the
    # writer says it is one.
    assert found("My card number is 3515 0802 1575 8594, expiry next year.") == [("3515 0802 1575 8594", "CARD")]
    assert [label for _, label in found("tracking 3515 0802 1575 8594 shipped")] != ["CARD"]


def test_iban_check() -> None:
    assert iban_ok("DE89370400440532013000")
    assert iban_ok("GB82WEST12345698765432")
    assert not iban_ok("DE89370400440532013001")  # check fails
    assert not iban_ok("DE8937040044053201300")  # Germany's length is 22
    assert not iban_ok("ZZ89370400440532013000")  # no such country


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("IBAN DE89 3704 0044 0532 0130 00.", "DE89 3704 0044 0532 0130 00"),
        ("to GB82WEST12345698765432 please", "GB82WEST12345698765432"),
        ("NL91ABNA0417164300 ABN", "NL91ABNA0417164300"),
    ],
)
def test_iban(text: str, value: str) -> None:
    assert found(text) == [(value, "IBAN")]


def test_a_bad_iban_is_nothing_at_all_and_does_not_hide_the_next() -> None:
    text = "bad DE89 3704 0044 0532 0130 01 then GB82WEST12345698765432"
    assert found(text) == [("GB82WEST12345698765432", "IBAN")]
    assert found("is NL20 ANXK 6557 5398 46 valid?") == []  # its digits are no phone either


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("server 192.168.1.10:8080 down", "192.168.1.10"),
        ("from 8.8.8.8.", "8.8.8.8"),
        ("ssh admin@10.0.0.1 fails", "10.0.0.1"),
        ("v6 2001:db8::1 ok", "2001:db8::1"),
        ("loopback ::1 ok", "::1"),
        ("link fe80::1%eth0", "fe80::1"),
        ("full 2001:0db8:85a3:0000:0000:8a2e:0370:7334.", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
        ("mapped ::ffff:192.0.2.1 here", "::ffff:192.0.2.1"),
    ],
)
def test_ip(text: str, value: str) -> None:
    assert found(text) == [(value, "IP")]


@pytest.mark.parametrize(
    "text",
    [
        "octet 256.1.1.1", "leading zero 01.2.3.4", "version 1.2.3.4", "release 10.0.0.1", "pkg==1.2.3.4",
        "five parts 1.2.3.4.5", "time 12:30:45", "mac 00:1A:2B:3C:4D:5E", "std::vector", "a::b", "ratio 2:1:1",
    ],
)
def test_not_an_ip(text: str) -> None:
    assert [label for _, label in found(text) if label == "IP"] == []


def test_only_enabled_kinds_are_found() -> None:
    text = "jo@example.com, +1 (555) 123-4567, 10.0.0.1"
    assert [label for _, _, label in find(text, ["email"])] == ["EMAIL"]
    assert [label for _, _, label in find(text, ["ip", "phone"])] == ["PHONE", "IP"]


def test_custom_patterns_come_first_and_the_longest_span_wins() -> None:
    detector = Detector(["email", "phone"], [("employee", r"EMP-\d{6}"), ("ticket", r"T-\d+")])
    assert found("badge EMP-123456, ticket T-99", detector) == [("EMP-123456", "EMPLOYEE"), ("T-99", "TICKET")]
    # A custom pattern covering an e-mail address wins over the e-mail on a tie, and the longer span otherwise.
    same = Detector(["email"], [("contact", r"\S+@\S+\.com")])
    assert found("to jo@example.com", same) == [("jo@example.com", "CONTACT")]
    longer = Detector(["email"], [("user", r"jo")])
    assert found("to jo@example.com", longer) == [("jo@example.com", "EMAIL")]


def test_spans_are_sorted_and_disjoint_in_a_busy_text() -> None:
    text = (
        "Call +44 20 7946 0958 or mail a@b.org; card 4111 1111 1111 1111, IBAN GB82WEST12345698765432, "
        "host 203.0.113.9 and 2001:db8::2; not 2024-01-15 nor version 1.2.3.4."
    )
    spans = ALL(text)
    assert [label for _, _, label in spans] == ["PHONE", "EMAIL", "CARD", "IBAN", "IP", "IP"]
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
