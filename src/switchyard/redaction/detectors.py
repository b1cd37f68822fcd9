"""Where the personal data is in a text: e-mail addresses, phone numbers, payment cards, IBANs, IP addresses.

Candidates are found with regular expressions and kept only if they pass a check a random string rarely passes:
cards need a valid Luhn digit, a plausible issuer prefix and that issuer's length; IBANs the ISO 7064 mod-97
check and their country's length; IPs must parse (``ipaddress``). Phone numbers have no checksum, so their rules
are about shape: an international prefix, a trunk ``0``, an area code in brackets, the North American 3-3-4
grouping, or a phone word just before (``tel``, ``call``, ``mobile``...); dates, times, thousands
(``1 234 567``), IPv4-shaped strings, US social security numbers and bare digit runs without a trunk ``0``
(order numbers, timestamps) are not phones unless such a word precedes them.

Decided, and documented in docs/redaction.md: an IPv4-shaped string right after a version word (``version``,
``release``, ``build``...) is a version, not an address; IBANs are recognised in capitals only; digits are ASCII.

Speed matters (the target is ≤ 0.2 ms for a 2 KB prompt, and a regex scan costs ~10 ns a character on this
machine): phones, cards, IPv4 and IBANs come from one scan for runs of digits and separators, and only runs long
enough to be any of them are looked at further; e-mail and IPv6 scans start from a literal (``@``, ``:``), which
the engine finds at memchr speed, and run only when it occurs.

This module is the one source of PII patterns: request redaction and log redaction
(:mod:`switchyard.telemetry.logs`) both use it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Final

from .config import Entity

__all__ = ["Detector", "Span", "find", "iban_ok", "luhn_ok"]

Span = tuple[int, int, str]
"""``(start, end, label)``: ``text[start:end]`` is personal data of kind ``label`` (``EMAIL``, ``PHONE``...)."""


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


# -- e-mail ------------------------------------------------------------------------------------------------

# Anchored on "@" (a literal the engine finds fast); the local part is walked back from it.
_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_EMAIL_DOMAIN: Final = re.compile(rf"@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,24}}(?![A-Za-z0-9\-]|\.[A-Za-z0-9])")
_LOCAL: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-'")


def _emails(text: str, out: list[Span]) -> None:
    for match in _EMAIL_DOMAIN.finditer(text):
        at = match.start()
        start = at
        while start > 0 and text[start - 1] in _LOCAL and at - start < 64:
            start -= 1
        while start < at and text[start] in ".'":
            start += 1
        if start < at and text[at - 1] != ".":
            out.append((start, match.end(), "EMAIL"))


# -- payment cards -----------------------------------------------------------------------------------------

_CARD: Final = re.compile(r"[0-9](?:[ \-]?[0-9]){12,18}")
_CARD_WORD: Final = re.compile(
    r"(?i)\b(?:card|credit|debit|visa|maestro|karte|carte|tarjeta|carta|kaart|cart[aã]o|payment|pay|charge)\b"
    r"[^\d\n]{0,24}$"
)


def luhn_ok(digits: str) -> bool:
    """The Luhn check digit is right (``digits``: only digits)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _issuer_ok(d: str) -> bool | None:
    """An issuer (IIN range) that exists and issues cards of this length; ``None`` (as ``False``, a card only with a
    card word before it) (13-digit Visa numbers, Maestro under 16 digits: the shape of EAN-13 barcodes, where 40-44 is
    Germany's prefix)."""
    n = len(d)
    if d[0] == "4":  # Visa
        return True if n in (16, 19) else (None if n == 13 else False)
    p2, p3, p4 = int(d[:2]), int(d[:3]), int(d[:4])
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:  # Mastercard
        return n == 16
    if p2 in (34, 37) or p4 in (1800, 2131):  # American Express; JCB's older 15-digit ranges
        return n == 15
    if p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 3528 <= p4 <= 3589 or p2 == 62:  # Discover, JCB, UnionPay
        return 16 <= n <= 19
    if 300 <= p3 <= 305 or p2 in (36, 38, 39) or p4 == 3095:  # Diners Club
        return 14 <= n <= 19
    if 2200 <= p4 <= 2204:  # Mir
        return 16 <= n <= 19
    if p2 == 50 or 56 <= p2 <= 69:  # Maestro
        return True if n >= 16 else None
    return False


def _cards(text: str, start: int, end: int, out: list[Span]) -> None:
    for match in _CARD.finditer(text, start, end):
        s, e = match.span()
        if (s and (_word(text[s - 1]) or text[s - 1] in ".,")) or (
            e < len(text) and (_word(text[e]) or (text[e] in ".,-" and text[e + 1 : e + 2].isdigit()))
        ):
            continue
        raw = match.group()
        if " " in raw and "-" in raw:
            continue  # one separator throughout, as cards are written
        digits = raw.replace(" ", "").replace("-", "")
        # With a card word just before it, a Luhn-valid number is a card whatever its prefix: the writer says
        # so, and issuer tables go stale (new ranges, test cards). Without one, the issuer must be plausible.
        if luhn_ok(digits) and (_issuer_ok(digits) or _CARD_WORD.search(text, max(0, s - 40), s)):
            out.append((s, e, "CARD"))


# -- IBAN --------------------------------------------------------------------------------------------------

IBAN_LENGTHS: Final = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
    "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25,
    "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
    "SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}
"""Length per country, from the SWIFT IBAN registry."""

_IBAN: Final = re.compile(r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}")


def iban_ok(compact: str) -> bool:
    """ISO 7064 mod-97: the IBAN (capitals, no spaces), its first four characters moved to the end and letters
    read as 10..35, leaves 1."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    moved = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1
    except ValueError:
        return False


def _iban_at(text: str, start: int) -> tuple[int, bool]:
    """Where an IBAN-shaped string starting at ``start`` (its country code) ends (-1: none does), and whether it
    is a valid IBAN. One with a wrong check is still not a phone number or a card, whatever its digits say."""
    length = IBAN_LENGTHS.get(text[start : start + 2])
    match = _IBAN.match(text, start) if length is not None else None
    if match is None or length is None:
        return -1, False
    # The greedy match may run into a following word in capitals: take the country's length exactly.
    end, taken = start, 0
    while taken < length and end < match.end():
        if text[end] != " ":
            taken += 1
        end += 1
    if taken < length or (end < len(text) and _word(text[end])):
        return match.end(), False
    return end, iban_ok(text[start:end].replace(" ", ""))


# -- IP addresses ------------------------------------------------------------------------------------------

_IPV4: Final = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}")
_VERSION_WORD: Final = re.compile(
    r"(?i)(?:\b(?:version|ver|v|release|build|firmware|revision|rev|patch|update|upgrade)\b\.?|[=~^]=)"
    r"[\s:=]*(?:(?:to|is|from)\s+)?$"
)
_V6_PAIR: Final = re.compile(r":[0-9A-Fa-f]{0,4}:")
_V6_TAIL: Final = re.compile(r"[0-9A-Fa-f:.]*")
_HEX_COLON: Final = frozenset("0123456789abcdefABCDEF:")


def _ip(candidate: str) -> bool:
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


def _ipv4(text: str, start: int, end: int, out: list[Span]) -> None:
    for match in _IPV4.finditer(text, start, end):
        s, e = match.span()
        if (s and (_word(text[s - 1]) or text[s - 1] in ".:")) or (
            e < len(text) and (_word(text[e]) or (text[e] == "." and text[e + 1 : e + 2].isdigit()))
        ):
            continue
        if _ip(match.group()) and not _VERSION_WORD.search(text, max(0, s - 24), s):
            out.append((s, e, "IP"))


def _ipv6(text: str, out: list[Span]) -> None:
    pos = 0
    while (match := _V6_PAIR.search(text, pos)) is not None:
        start = match.start()
        while start > 0 and text[start - 1] in _HEX_COLON and match.start() - start < 40:
            start -= 1
        end = _V6_TAIL.match(text, match.start()).end()  # type: ignore[union-attr]  # [...]* always matches
        while end > start and (text[end - 1] == "." or (text[end - 1] == ":" and text[end - 2 : end] != "::")):
            end -= 1
        pos = max(end, match.end())
        if (start and (_word(text[start - 1]) or text[start - 1] == ".")) or (end < len(text) and _word(text[end])):
            continue
        candidate = text[start:end]
        # A digit somewhere: "a::b" is an address to ipaddress but a path in C++ or Rust.
        if candidate.count(":") >= 2 and any(c.isdigit() for c in candidate) and _ip(candidate):
            out.append((start, end, "IP"))


# -- phone numbers -----------------------------------------------------------------------------------------

_EXTENSION: Final = re.compile(r" ?(?:x|ext\.?|extension) ?\d{1,6}$")
_DATE: Final = re.compile(
    r"(?:\d{4}[\-./](?:0?[1-9]|1[0-2])[\-./](?:0?[1-9]|[12]\d|3[01])"
    r"|(?:0?[1-9]|[12]\d|3[01])[\-./](?:0?[1-9]|[12]\d|3[01])[\-./](?:\d{4}|\d{2}))(?!\d)"
)
_GROUPS: Final = re.compile(r"\d+")
_NANP: Final = re.compile(r"(?:\+?1[ .\-]?)?(?:\(\d{3}\) ?|\d{3}[ .\-])\d{3}[ .\-]\d{4}")
_SSN: Final = re.compile(r"\d{3}-\d{2}-\d{4}")
_IPV4_SHAPE: Final = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_PHONE_WORD: Final = re.compile(
    r"(?i)(?:\b(?:tel|tél|phone|call|calling|mobile|mob|cell|fax|whats ?app|sms|text|handy|m[oó]vil|portable"
    r"|cellulare|telefon\w*|tel[eé]fono|t[eé]l[eé]phone|ring|dial|contact|reach)\b|[☎📞])[^\d\n]{0,18}$"
)


def _phone_shape(text: str, start: int, candidate: str) -> bool:
    body = _EXTENSION.sub("", candidate)
    body = body.replace("(0)", "")
    digits = sum(ch.isdigit() for ch in body)
    if body.startswith("+") or body.startswith("(+") or (body.startswith("00") and not body.isdigit() and digits >= 10):
        return 8 <= digits <= 15  # international; "00" only when grouped, since a bare 00... is often a barcode
    if not 7 <= digits <= 12 or _IPV4_SHAPE.fullmatch(body):
        return False
    date = _DATE.match(body)
    if date is not None and (date.end() == len(body) or body[date.end()] == " "):
        return False  # a date, or a date and the hour of a time ("2024-01-15 10:30")
    groups = _GROUPS.findall(body)
    if _NANP.fullmatch(body):
        return True
    keyword = _PHONE_WORD.search(text, max(0, start - 40), start) is not None
    if len(groups) == 1:
        # A bare run of digits: a phone with a trunk 0 (0612345678), else an order number or a timestamp.
        return keyword or (body[0] == "0" and 10 <= digits <= 11)
    if _SSN.fullmatch(body) or len(groups[-1]) == 1 or (len(groups) >= 3 and all(len(g) == 4 for g in groups)):
        # Shapes of other numbers: a US social security number (3-2-4), ISBNs (a check digit alone at the end),
        # references and card fragments in fours. Phones are rarely written so.
        return keyword
    if body[0] == "(" or body[0] == "0":
        return digits >= 8 or keyword
    thousands = all(len(g) == 3 for g in groups[1:]) and len(groups[0]) <= 3 and body[len(groups[0])] in " ."
    if thousands:
        return keyword
    return keyword or (digits >= 9 and len(groups) >= 3)


def _phone(text: str, start: int, end: int, out: list[Span]) -> None:
    candidate = text[start:end]
    # A bracket only counts as part of the number when balanced ("(555) 123-4567", not "(call 555-1234)").
    if candidate.count("(") != candidate.count(")"):
        if candidate.endswith(")"):
            candidate, end = candidate[:-1], end - 1
        elif candidate.startswith("("):
            candidate, start = candidate[1:], start + 1
    stripped = candidate.rstrip(" .-/(")
    end -= len(candidate) - len(stripped)
    candidate = stripped
    before = text[start - 1] if start else " "
    after = text[end : end + 2]
    if (_word(before) or (before in ".,/-:" and text[start - 2 : start - 1].isdigit())) or (
        after and (_word(after[0]) or (after[0] in ".,:" and after[1:].isdigit()) or (
            after[0] in "-/" and _word(after[1:2] or " ")))
    ):
        return
    if _phone_shape(text, start, candidate):
        out.append((start, end, "PHONE"))
    elif " " in candidate and len(candidate) - len(cut := candidate.rstrip("0123456789")) <= 2:
        # A number and a small one run together ("555-123-4567 2 times"): try it without the small one.
        cut = cut.rstrip(" ")
        if cut and cut[-1].isdigit() and _phone_shape(text, start, cut):
            out.append((start, start + len(cut), "PHONE"))


# -- one scan for the numeric kinds -------------------------------------------------------------------------

_RUN: Final = re.compile(r"[+(0-9][0-9().\-/ ]*[0-9](?: ?(?:x|ext\.?|extension) ?[0-9]{1,6})?")
"""A run of digits and the separators phones, cards and IPv4 addresses are written with."""


def _numbers(text: str, kinds: frozenset[str], out: list[Span]) -> None:
    iban_end = 0
    for match in _RUN.finditer(text):
        start, end = match.span()
        if start < iban_end:
            continue
        if start >= 2 and text[start - 1].isupper() and text[start - 2].isupper():
            iban_end, valid = _iban_at(text, start - 2)
            if valid and "iban" in kinds:
                out.append((start - 2, iban_end, "IBAN"))
            if iban_end > 0:
                continue
        if end - start < 7:
            continue  # shorter than "1.1.1.1" and any phone or card: most numbers in prose end here
        if "ip" in kinds and "." in match.group():
            _ipv4(text, start, end, out)
        if "card" in kinds and end - start >= 13:
            _cards(text, start, end, out)
        if "phone" in kinds:
            _phone(text, start, end, out)


# -- together ----------------------------------------------------------------------------------------------

_RANK: Final = ("EMAIL", "IBAN", "CARD", "IP", "PHONE")
"""Precedence when two kinds claim the same text (after custom patterns): the more specific check first."""


class Detector:
    """The enabled kinds and custom patterns, compiled once. Calling it gives the spans of a text, sorted and
    without overlaps: the longest wins, then custom patterns (in order), then e-mail, IBAN, card, IP, phone."""

    __slots__ = ("_custom", "_email", "_ip", "_numbers", "_rank")

    def __init__(self, entities: Iterable[Entity], custom: Iterable[tuple[str, str]] = ()) -> None:
        enabled = frozenset(entities)
        self._custom = tuple((name.upper(), _regex_finder(pattern)) for name, pattern in custom)
        self._email = "email" in enabled
        self._ip = "ip" in enabled
        self._numbers = enabled & {"phone", "card", "iban", "ip"}
        labels = [label for label, _ in self._custom] + list(_RANK)
        self._rank = {label: i for i, label in enumerate(labels)}

    def __call__(self, text: str) -> list[Span]:
        spans: list[Span] = []
        for label, finder in self._custom:
            spans.extend((s, e, label) for s, e in finder(text))
        if self._email and "@" in text:
            _emails(text, spans)
        if self._numbers:
            _numbers(text, self._numbers, spans)
        if self._ip and ":" in text:
            _ipv6(text, spans)
        if len(spans) > 1:
            spans = _resolve(spans, self._rank)
        return spans


def _regex_finder(pattern: str) -> Callable[[str], list[tuple[int, int]]]:
    compiled = re.compile(pattern)

    def finder(text: str) -> list[tuple[int, int]]:
        return [m.span() for m in compiled.finditer(text) if m.end() > m.start()]

    return finder


def _resolve(spans: list[Span], rank: dict[str, int]) -> list[Span]:
    spans.sort(key=lambda s: (s[0], s[0] - s[1], rank[s[2]]))
    kept: list[Span] = []
    for span in spans:
        if kept and span[0] < kept[-1][1]:
            last = kept[-1]
            # Starts inside the kept one: keep whichever is longer (ties: the kept one, by rank order).
            if span[1] - span[0] > last[1] - last[0]:
                kept[-1] = span
            continue
        kept.append(span)
    return kept


def find(text: str, entities: Iterable[Entity] = ("email", "phone", "card", "iban", "ip")) -> list[Span]:
    """The spans of ``entities`` in ``text`` (a convenience; build a :class:`Detector` once for repeated use)."""
    return Detector(entities)(text)
