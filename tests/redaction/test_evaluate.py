"""The synthetic labelled sample (Faker) and ``switchyard eval-redaction``: deterministic, correctly labelled, and
the detectors' scores on it."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import orjson
import pytest

from switchyard.cli import main
from switchyard.redaction.evaluate import score
from switchyard.redaction.sample import LOCALES, NEGATIVE, POSITIVE, make_sample


def test_the_sample_is_deterministic_and_its_labels_point_at_values() -> None:
    one, two = make_sample(200, seed=3), make_sample(200, seed=3)
    assert one == two
    assert make_sample(50, seed=4) != one[:50]
    assert {e.locale for e in one} == set(LOCALES)
    labels = {label for e in one for _, _, label in e.spans}
    categories = {c for e in one for _, _, c in e.negatives}
    assert labels == set(POSITIVE)
    assert len(categories) >= len(NEGATIVE) - 2
    for example in one:
        marks = sorted(example.spans + example.negatives)
        assert all(a[1] < b[0] for a, b in itertools.pairwise(marks))
        for start, end, _ in marks:
            value = example.text[start:end]
            assert value == value.strip()
            assert value


def test_dates_and_timestamps_do_not_follow_the_clock() -> None:
    # Faker draws them up to "now" by default: the same seed gave another sample every second (a flaky equality).
    sample = make_sample(400, seed=8)
    stamps = [e.text[s:t] for e in sample for s, t, kind in e.negatives if kind == "timestamp"]
    latest = datetime(2026, 1, 1)
    assert stamps
    for stamp in stamps:
        when = datetime.fromtimestamp(int(stamp)) if len(stamp) <= 10 else datetime.strptime(stamp, "%Y%m%d%H%M%S")
        assert when <= latest + timedelta(days=1), stamp


def test_scores_on_the_sample() -> None:
    rows = {row["label"]: row for row in score(make_sample(600, seed=11)).rows()}
    for label in ("EMAIL", "IBAN", "IP"):
        assert rows[label]["f1"] >= 0.99, rows[label]
    assert rows["PHONE"]["precision"] >= 0.98, rows["PHONE"]
    assert rows["PHONE"]["recall"] >= 0.95, rows["PHONE"]
    # The sample puts a card word before every card, which vouches even for Faker's JCB numbers outside JCB's
    # real range (3528-3589); bare numbers of unknown issuers are not cards (tests/redaction/test_detectors.py).
    assert rows["CARD"]["precision"] >= 0.99, rows["CARD"]
    assert rows["CARD"]["recall"] >= 0.99, rows["CARD"]
    assert rows["ALL"]["precision"] >= 0.99


def test_the_command_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval-redaction", "--n", "100", "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["sample"]["synthetic"] is True
    assert report["sample"]["matching"].startswith("span-level exact")
    assert [row["label"] for row in report["scores"]] == ["EMAIL", "PHONE", "CARD", "IBAN", "IP", "ALL"]


def test_the_command_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval-redaction", "--n", "100", "--show", "1"]) == 0
    out = capsys.readouterr().out
    assert "Span-level exact match" in out
    assert out.count("\n") >= 8
