"""``switchyard eval-redaction``: precision, recall and F1 of the detectors per entity type on the synthetic
labelled sample (:mod:`.sample`).

Scoring is span-level exact match: a detection counts as right only if its start, end and type are exactly a
labelled span's. A detection that overlaps a labelled span but is a character off is both a false positive and
a false negative, so the figures are a lower bound on what redaction achieves in practice (where covering the
value is what matters). False positives are also counted by the hard-negative category they hit.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from .config import ENTITIES
from .detectors import Detector
from .sample import LOCALES, Example, make_sample

__all__ = ["Scores", "eval_redaction_command", "score"]

_LABELS = tuple(e.upper() for e in ENTITIES)


@dataclass
class Scores:
    true_pos: Counter[str] = field(default_factory=Counter)
    false_pos: Counter[str] = field(default_factory=Counter)
    false_neg: Counter[str] = field(default_factory=Counter)
    hit_negatives: Counter[str] = field(default_factory=Counter)
    """False positives by the hard-negative category they overlap (``other``: none)."""
    misses: list[tuple[str, str, str]] = field(default_factory=list)
    """``(label, labelled value, example text)`` for false negatives, for a reader looking for patterns."""
    wrong: list[tuple[str, str, str]] = field(default_factory=list)
    """``(label, detected value, example text)`` for false positives."""

    def row(self, label: str) -> dict[str, Any]:
        tp, fp, fn = self.true_pos[label], self.false_pos[label], self.false_neg[label]
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"label": label, "support": tp + fn, "tp": tp, "fp": fp, "fn": fn,
                "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}

    def rows(self) -> list[dict[str, Any]]:
        rows = [self.row(label) for label in _LABELS]
        total = Scores(Counter({"ALL": sum(self.true_pos.values())}), Counter({"ALL": sum(self.false_pos.values())}),
                       Counter({"ALL": sum(self.false_neg.values())}))
        return [*rows, total.row("ALL")]


def score(examples: list[Example], detector: Detector | None = None) -> Scores:
    detect = detector or Detector(ENTITIES)
    scores = Scores()
    for example in examples:
        gold = set(example.spans)
        found = set(detect(example.text))
        for _, _, label in found & gold:
            scores.true_pos[label] += 1
        for start, end, label in found - gold:
            scores.false_pos[label] += 1
            hit = next((c for s, e, c in example.negatives if s < end and start < e), "other")
            scores.hit_negatives[hit] += 1
            scores.wrong.append((label, example.text[start:end], example.text))
        for start, end, label in gold - found:
            scores.false_neg[label] += 1
            scores.misses.append((label, example.text[start:end], example.text))
    return scores


def eval_redaction_command(*, n: int = 2000, seed: int = 8, as_json: bool = False, show: int = 0) -> int:
    try:
        examples = make_sample(n, seed)
    except ImportError:
        print("eval-redaction needs Faker to make its sample: pip install faker (or the 'dev' extra)",
              file=sys.stderr)
        return 2
    scores = score(examples)
    negatives = sum(len(e.negatives) for e in examples)
    if as_json:
        print(orjson.dumps({
            "sample": {"messages": n, "seed": seed, "locales": list(LOCALES), "hard_negatives": negatives,
                       "synthetic": True, "matching": "span-level exact (start, end, type)"},
            "scores": scores.rows(),
            "false_positives_by_negative": dict(scores.hit_negatives),
        }, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(f"Synthetic sample (Faker, seed {seed}): {n} messages, {len(LOCALES)} locales, "
          f"{negatives} hard negatives. Span-level exact match.")
    print(f"{'type':<6} {'support':>7} {'tp':>5} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7} {'f1':>6}")
    for row in scores.rows():
        print(f"{row['label']:<6} {row['support']:>7} {row['tp']:>5} {row['fp']:>4} {row['fn']:>4} "
              f"{row['precision']:>9.4f} {row['recall']:>7.4f} {row['f1']:>6.4f}")
    if scores.hit_negatives:
        print("false positives by hard-negative category: "
              + ", ".join(f"{k} {v}" for k, v in scores.hit_negatives.most_common()))
    for title, items in (("missed", scores.misses), ("wrongly flagged", scores.wrong)):
        for label, value, text in items[:show]:
            print(f"  {title} {label}: {value!r} in {text!r}")
    return 0
