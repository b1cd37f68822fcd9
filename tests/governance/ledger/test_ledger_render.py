"""Report renderers: CSV and JSON parse back to the rows; the table shows groups, totals and the feature note."""

from __future__ import annotations

import csv
import io

import orjson

from switchyard.governance.ledger import FEATURE_NOTE, UsageRow
from switchyard.governance.ledger.render import render_csv, render_json, render_table

ROWS = [
    UsageRow(
        group="openai", requests=1200, errors=3, input_tokens=1_500_000, output_tokens=90_000, cached_tokens=40_000,
        cost_usd=12.3456, unknown_cost=0, cache_hits=17, avg_latency_ms=640.2, p95_latency_ms=1510.0,
    ),
    UsageRow(
        group=None, requests=4, errors=4, input_tokens=0, output_tokens=0, cached_tokens=0,
        cost_usd=0.0, unknown_cost=4, cache_hits=0, avg_latency_ms=3.0, p95_latency_ms=5.5,
    ),
]


def test_csv_parses_back_to_the_rows() -> None:
    lines = list(csv.DictReader(io.StringIO(render_csv(ROWS, "provider"))))
    assert list(lines[0]) == ["provider", *list(UsageRow.__struct_fields__)[1:]]
    for line, row in zip(lines, ROWS, strict=True):
        assert (line["provider"] or None) == row.group
        assert int(line["requests"]) == row.requests
        assert float(line["cost_usd"]) == row.cost_usd
        assert int(line["unknown_cost"]) == row.unknown_cost
        assert float(line["p95_latency_ms"]) == row.p95_latency_ms


def test_json_has_the_admin_api_shape() -> None:
    document = orjson.loads(render_json(ROWS, "provider", since=1.0, until=2.0, tz="Europe/Paris"))
    assert document["by"] == "provider"
    assert (document["since"], document["until"], document["tz"]) == (1.0, 2.0, "Europe/Paris")
    assert [UsageRow(**row) for row in document["data"]] == ROWS
    assert "note" not in document
    assert orjson.loads(render_json(ROWS, "feature"))["note"] == FEATURE_NOTE


def test_table_shows_groups_and_a_total() -> None:
    text = render_table(ROWS, "provider", title="usage by provider")
    assert "usage by provider" in text
    assert "openai" in text
    assert "(none)" in text
    assert "1,200" in text
    assert "12.3456" in text
    total = next(line for line in text.splitlines() if "total" in line)
    assert "1,204" in total


def test_feature_table_explains_double_counting_and_has_no_total() -> None:
    text = render_table(ROWS, "feature", width=200)
    assert FEATURE_NOTE in " ".join(text.split())
    assert "total" not in text


def test_empty_table_says_so() -> None:
    assert "(no usage)" in render_table([], "day")
