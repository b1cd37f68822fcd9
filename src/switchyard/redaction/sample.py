"""A labelled sample for measuring the detectors: synthetic messages with every span of personal data marked.

No labelled PII data set ships with the project, and real personal data cannot be used, so the sample is made
with Faker (a ``dev`` dependency) at evaluation time: a fixed seed and several locales give realistic values in
each country's formats (phone numbers, IBANs, e-mail addresses, cards of several issuers, IPv4 and IPv6), set
into short messages of the kind users send. Half the sentences are hard negatives that must not be flagged:
dates, times, timestamps, prices, order numbers, version strings, ISBNs, EANs, UUIDs, hashes, MAC addresses,
postcodes, 16-digit numbers failing Luhn, IBAN-shaped strings with a wrong check, US social security numbers.
Each negative is marked with its category, so a false positive can be traced to what it hit.

The same seed gives the same sample on every run (Faker's output for a seed is stable within a Faker version).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from faker import Faker

__all__ = ["LOCALES", "Example", "make_sample"]

LOCALES: Final = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR")

_END: Final = datetime(2026, 1, 1)
"""The latest date, time and timestamp drawn: Faker's default is now, which made a seed's sample change by the
second (and two samples made a second apart differ)."""


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    spans: tuple[tuple[int, int, str], ...]
    """The personal data: ``(start, end, label)`` with labels ``EMAIL``, ``PHONE``, ``CARD``, ``IBAN``, ``IP``."""
    negatives: tuple[tuple[int, int, str], ...]
    """Hard negatives, with their category (``date``, ``order``, ``bad_luhn``...): nothing here is personal data."""
    locale: str


_Value = Callable[["Faker", random.Random], str]

# -- positives ---------------------------------------------------------------------------------------------


def _grouped(digits: str, size: int, sep: str) -> str:
    return sep.join(digits[i : i + size] for i in range(0, len(digits), size))


def _card(fake: Faker, rng: random.Random) -> str:
    while True:
        number = fake.credit_card_number()
        if 13 <= len(number) <= 19:
            break
    style = rng.random()
    if style < 0.4:
        return number
    return _grouped(number, 4, " " if style < 0.8 else "-")


def _iban(fake: Faker, rng: random.Random) -> str:
    iban = str(fake.iban())
    return _grouped(iban, 4, " ") if rng.random() < 0.5 else iban


def _ip(fake: Faker, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        return str(fake.ipv4_public())
    if roll < 0.7:
        return str(fake.ipv4_private())
    return str(fake.ipv6())


POSITIVE: Final[dict[str, tuple[_Value, tuple[str, ...]]]] = {
    "EMAIL": (
        lambda fake, rng: str(rng.choice((fake.email, fake.company_email, fake.free_email))()),
        (
            "Please send the invoice to {} by Friday.",
            "My address is {}, reply there.",
            "cc {} on the thread",
            "Contact: {}",
            "Forwarding from {} — can you summarise it?",
            "Write a polite reminder to {} about the overdue report.",
        ),
    ),
    "PHONE": (
        lambda fake, rng: str(fake.phone_number()),
        (
            "Call me at {} after 5pm.",
            "My phone number is {}.",
            "Tel.: {}",
            "You can reach the front desk on {} during office hours.",
            "Mobile {} (text only please)",
            "The customer left a voicemail, number {}, asking about the refund.",
            "Téléphone : {}",
        ),
    ),
    "CARD": (
        _card,
        (
            "My card number is {}, expiry next year.",
            "Charge {} for the renewal.",
            "The payment with card {} was declined, why?",
            "Card: {}",
        ),
    ),
    "IBAN": (
        _iban,
        (
            "Please transfer the deposit to IBAN {}.",
            "Our bank details: {} (BIC on request).",
            "Refund to {} please.",
            "IBAN: {}",
        ),
    ),
    "IP": (
        _ip,
        (
            "The server at {} keeps timing out.",
            "Block requests from {} in the firewall.",
            "My home IP is {}, is it listed?",
            "ssh admin@{} fails with permission denied",
            "Login attempt from {} at night looked suspicious.",
        ),
    ),
}

# -- hard negatives ----------------------------------------------------------------------------------------


def _bad_luhn(fake: Faker, rng: random.Random) -> str:
    number = "4" + "".join(str(rng.randrange(10)) for _ in range(15))
    digits = [int(c) for c in number]
    total = sum(d if i % 2 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits[:-1]))
    wrong = (10 - total % 10) % 10  # the right check digit for 16 digits, then off by one to make it wrong
    number = number[:-1] + str((wrong + 1 + rng.randrange(9)) % 10)
    return _grouped(number, 4, rng.choice((" ", "-", ""))) if rng.random() < 0.7 else number


def _bad_iban(fake: Faker, rng: random.Random) -> str:
    iban = str(fake.iban())
    check = int(iban[2:4])
    bad = iban[:2] + f"{(check + 1 + rng.randrange(90)) % 97 + 2:02d}"[-2:] + iban[4:]
    if bad == iban:
        bad = iban[:2] + ("01" if iban[2:4] != "01" else "02") + iban[4:]
    return _grouped(bad, 4, " ") if rng.random() < 0.5 else bad


def _version(fake: Faker, rng: random.Random) -> str:
    parts = [str(rng.randrange(0, 30)) for _ in range(rng.choice((3, 4)))]
    return ".".join(parts)


NEGATIVE: Final[dict[str, tuple[_Value, tuple[str, ...]]]] = {
    "date": (
        lambda fake, rng: fake.date(rng.choice(("%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%d/%m/%Y", "%d-%m-%Y")), _END),
        ("The meeting moved to {}.", "Deadline: {}", "Invoice dated {} is still open."),
    ),
    "time": (
        lambda fake, rng: f"{fake.date('%Y-%m-%d', _END)} {fake.time(end_datetime=_END)}",
        ("The job failed at {} with exit code 137.", "Logged at {}", "Last backup: {}"),
    ),
    "timestamp": (
        lambda fake, rng: str(fake.unix_time(_END)).split(".")[0] if rng.random() < 0.5 else fake.date(
            "%Y%m%d%H%M%S", _END
        ),
        ("The event timestamp is {}.", "created_at={}", "Sort by {} descending."),
    ),
    "price": (
        lambda fake, rng: str(fake.pricetag()) if rng.random() < 0.5
        else f"{rng.randrange(1, 999)} {rng.randrange(100, 999)} 000",
        ("The quote came in at {}.", "Budget: {} for the year.", "Revenue was {} last quarter."),
    ),
    "order": (
        lambda fake, rng: "1" + fake.bothify(rng.choice(("########", "ORD-########", "#########", "######-##"))),
        ("Where is my order {}?", "Order number {} arrived damaged.", "Ticket {} is still unresolved."),
    ),
    "version": (
        _version,
        ("Upgrade to version {} before Monday.", "We run release {} in production.", "Build {} broke the tests."),
    ),
    "isbn": (
        lambda fake, rng: str(rng.choice((fake.isbn13, fake.isbn10))()),
        ("The book's ISBN is {}.", "Cite ISBN {} in the bibliography."),
    ),
    "ean": (
        lambda fake, rng: str(fake.ean13()),
        ("Barcode {} does not scan.", "EAN {} is missing from the catalogue."),
    ),
    "uuid": (lambda fake, rng: str(fake.uuid4()), ("Request id {} failed.", "Look up record {}.")),
    "hash": (
        lambda fake, rng: str(rng.choice((fake.sha1, fake.md5, fake.sha256))()),
        ("Commit {} introduced the bug.", "The file's checksum is {}."),
    ),
    "mac": (lambda fake, rng: str(fake.mac_address()), ("The device with MAC {} is offline.",)),
    "postcode": (lambda fake, rng: str(fake.postcode()), ("Ship it to postcode {}.", "Zip: {}")),
    "bad_luhn": (_bad_luhn, ("Reference {} on the statement.", "Account reference: {}")),
    "bad_iban": (_bad_iban, ("Is {} a valid IBAN?", "The form rejected {}.")),
    "ssn": (
        lambda fake, rng: f"{rng.randrange(100, 899)}-{rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}",
        ("Case file {} was archived.",),
    ),
}

_FILLER: Final = (
    "Thanks in advance!",
    "Can you help me draft a reply?",
    "Summarise this for my manager.",
    "This is urgent.",
    "Let me know if anything is missing.",
)


def make_sample(n: int = 2000, seed: int = 8) -> list[Example]:
    """``n`` messages of one to three sentences, each sentence holding personal data or a hard negative (about
    half each), round-robin over :data:`LOCALES`. Needs Faker (``pip install faker``)."""
    from faker import Faker

    fakers = {}
    for i, locale in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed * 1000 + i)
        fakers[locale] = fake
    rng = random.Random(seed)
    positives, negatives = list(POSITIVE.items()), list(NEGATIVE.items())
    examples = []
    for i in range(n):
        locale = LOCALES[i % len(LOCALES)]
        fake = fakers[locale]
        text = ""
        spans: list[tuple[int, int, str]] = []
        marked: list[tuple[int, int, str]] = []
        for _ in range(rng.choice((1, 2, 3))):
            positive = rng.random() < 0.5
            label, (value_of, templates) = rng.choice(positives if positive else negatives)
            value = value_of(fake, rng)
            template = rng.choice(templates)
            before, after = template.split("{}")
            if text:
                text += " "
            start = len(text) + len(before)
            text += before + value + after
            (spans if positive else marked).append((start, start + len(value), label))
            if rng.random() < 0.2:
                text += " " + rng.choice(_FILLER)
        examples.append(Example(text, tuple(spans), tuple(marked), locale))
    return examples
