"""The evaluation harness (``switchyard eval``): run an eval set through the gateway against several models or
routes and measure, per target, success rate, latency, cost, tokens and quality (matching or a judge model);
write the quality scores for the ``quality`` routing strategy.

```python
items = load_named_set("builtin")
async with Gateway.from_file("switchyard.yaml") as gateway:
    report = await run_eval(gateway, ["gpt-4o-mini", "claude-sonnet"], items, judge="gpt-4o")
write_quality_scores(report, "quality.json")
```
"""

from .datasets import builtin_items, gsm8k_items, load_named_set
from .items import EvalItem, Match, load_eval_set, parse_eval_item, parse_eval_lines
from .judge import JudgeVerdict, judge_answer, parse_judge_score
from .quality import load_quality_scores, quality_scores, write_quality_scores
from .report import print_table, report_json, text_table
from .runner import EvalReport, ItemResult, TargetSummary, run_eval
from .scoring import extract_choice, extract_number, normalize, score_answer

__all__ = [
    "EvalItem",
    "EvalReport",
    "ItemResult",
    "JudgeVerdict",
    "Match",
    "TargetSummary",
    "builtin_items",
    "extract_choice",
    "extract_number",
    "gsm8k_items",
    "judge_answer",
    "load_eval_set",
    "load_named_set",
    "load_quality_scores",
    "normalize",
    "parse_eval_item",
    "parse_eval_lines",
    "parse_judge_score",
    "print_table",
    "quality_scores",
    "report_json",
    "run_eval",
    "score_answer",
    "text_table",
    "write_quality_scores",
]
