"""Rendering a report: the aligned-text and rich tables, and the JSON document."""

from __future__ import annotations

import io

import orjson

from switchyard.evaluation import EvalReport, ItemResult, TargetSummary, print_table, report_json, text_table
from switchyard.evaluation.report import HEADERS


def report() -> EvalReport:
    priced = TargetSummary(
        target="gpt", n=2, succeeded=2, scored=2, quality=0.5, latency_p50_ms=12.0, latency_p95_ms=30.5,
        cost_usd=0.0004, input_tokens=40, output_tokens=10, answered_by={"gpt": 2},
    )
    unpriced = TargetSummary(
        target="azure-gpt", n=2, succeeded=1, scored=0, quality=None, latency_p50_ms=9.0, latency_p95_ms=9.0,
        cost_usd=None, input_tokens=20, output_tokens=5, judge_failures=1, errors={"UpstreamTimeoutError": 1},
    )
    down = TargetSummary(
        target="dead", n=2, succeeded=0, scored=0, quality=None, latency_p50_ms=None, latency_p95_ms=None,
        cost_usd=None, input_tokens=0, output_tokens=0,
    )
    items = [ItemResult("gpt", "q1", ("math",), True, 12.0, "4", 1.0, "gpt", 0.0002, 20, 5)]
    return EvalReport("builtin", "gemini", "2025-01-31T12:00:00+00:00", 0.25, [priced, unpriced, down], items)


def test_text_table_lines_up_and_says_unknown_for_unknown_prices() -> None:
    lines = text_table(report()).splitlines()
    assert lines[0].split() == ["target", "n", "ok", "p50", "ms", "p95", "ms", "cost", "$", "$/item", "tokens",
                                "in/out", "quality", "scored"]
    gpt, azure, dead = (line.split() for line in lines[2:])
    assert gpt == ["gpt", "2", "100%", "12.0", "30.5", "0.000400", "0.000200", "40/10", "0.500", "2/2"]
    assert azure[:8] == ["azure-gpt", "2", "50%", "9.0", "9.0", "unknown", "unknown", "20/5"]
    assert " ".join(azure[8:]) == "- 0/1 (1 judge failed)"
    # Nothing answered: nothing to price, which is not the same as an unknown price.
    assert dead == ["dead", "2", "0%", "-", "-", "-", "-", "0/0", "-", "0/0"]
    # Figures are right-aligned: every row ends its "scored" cell at the same column.
    assert len({len(line) for line in lines[1:3]}) == 1


def test_rich_table_has_every_column_and_the_caption() -> None:
    out = io.StringIO()
    print_table(report(), out)
    text = out.getvalue()
    assert "eval set builtin: 1 item(s), judged by gemini" in text
    for header in HEADERS:
        assert header in text
    assert "unknown" in text
    assert "azure-gpt" in text


def test_json_has_summaries_derived_figures_and_items() -> None:
    data = orjson.loads(orjson.dumps(report_json(report())))
    assert (data["eval_set"], data["judge"], data["duration_s"]) == ("builtin", "gemini", 0.25)
    gpt, azure, _ = data["targets"]
    assert gpt["success_rate"] == 1.0
    assert gpt["cost_per_item_usd"] == 0.0002
    assert azure["success_rate"] == 0.5
    assert azure["cost_usd"] is None
    assert azure["errors"] == {"UpstreamTimeoutError": 1}
    assert data["items"][0]["answer"] == "4"
    assert data["items"][0]["tags"] == ["math"]
    assert "items" not in report_json(report(), items=False)
