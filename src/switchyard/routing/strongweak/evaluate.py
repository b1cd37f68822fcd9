"""``switchyard eval-router``: the shipped strong/weak router against baselines on the held-out split.

Three routers score the same held-out prompts, and each is swept into a cost/quality curve (:mod:`.metrics`):

* ``learned``: the bundled :class:`StrongWeakRouter` artifact, exactly as a request would be scored;
* ``random``: uniform random scores, :data:`RANDOM_DRAWS` seeded draws, reported as mean ± std (the std is the
  noise floor of a dataset that small);
* ``length``: the word count (longer → strong), the family of the seeds' rule "< 10 words → cheap model",
  whose own operating point is reported separately.

Also measured: the learned router's per-prompt scoring latency over every held-out prompt.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .data import (
    DATASETS,
    SPLIT_SEED,
    STRONG_MODEL,
    TEST_FRACTION,
    WEAK_MODEL,
    Example,
    held_out_digest,
    held_out_mask,
    load_routing_data,
)
from .metrics import apgr, cpt, routing_curve
from .model import StrongWeakRouter

__all__ = ["RANDOM_DRAWS", "RULE_WORDS", "EvalReport", "Figures", "eval_router_command", "evaluate", "render"]

RANDOM_DRAWS = 200
RULE_WORDS = 10
CURVE_SHARES = tuple(i / 10 for i in range(11))
ROUTERS = ("learned", "random", "length")
PARTS = ("pooled", *DATASETS)


@dataclass(frozen=True, slots=True)
class Figures:
    apgr: float
    cpt50: float | None
    cpt80: float | None
    apgr_std: float | None = None
    """Spread over the random draws (random routing only)."""
    curve: tuple[tuple[float, float, float], ...] = ()
    """(strong share, quality, PGR) at :data:`CURVE_SHARES`."""


@dataclass(slots=True)
class EvalReport:
    counts: dict[str, int]
    split_matches: bool | None
    """Whether the held-out prompts are those the artifact was trained without (None: artifact has no record)."""
    models: dict[str, tuple[float, float]]
    """Per part: (weak quality, strong quality)."""
    figures: dict[str, dict[str, Figures]]
    """router → part → figures."""
    rule: dict[str, tuple[float, float, float]]
    """Per part, the "< 10 words → weak" rule's (strong share, quality, PGR)."""
    latency_ms: dict[str, float]
    draws: int = RANDOM_DRAWS
    training: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "split": {
                "seed": SPLIT_SEED,
                "test_fraction": TEST_FRACTION,
                "counts": self.counts,
                "matches_artifact": self.split_matches,
            },
            "models": {
                part: {"weak": weak, "strong": strong, "weak_model": WEAK_MODEL, "strong_model": STRONG_MODEL}
                for part, (weak, strong) in self.models.items()
            },
            "routers": {
                router: {
                    part: {
                        "apgr": f.apgr,
                        "apgr_std": f.apgr_std,
                        "cpt50": f.cpt50,
                        "cpt80": f.cpt80,
                        "curve": [{"strong_share": s, "quality": q, "pgr": p} for s, q, p in f.curve],
                    }
                    for part, f in parts.items()
                }
                for router, parts in self.figures.items()
            },
            "rule_under_10_words_weak": {
                part: {"strong_share": s, "quality": q, "pgr": p} for part, (s, q, p) in self.rule.items()
            },
            "latency_ms": self.latency_ms,
            "random_draws": self.draws,
            "training": self.training,
        }


def evaluate(
    data: str | Path | None = None, *, artifact: str | Path | None = None, draws: int = RANDOM_DRAWS
) -> EvalReport:
    """Score the held-out split with the artifact and the baselines; see the module docstring."""
    started = time.perf_counter()
    router = StrongWeakRouter.load(artifact)
    load_ms = (time.perf_counter() - started) * 1e3
    loaded = load_routing_data(data)
    test = [e for e, held in zip(loaded.examples, held_out_mask(loaded.examples), strict=True) if held]
    recorded = router.meta.get("split", {}).get("held_out_digest")
    weak = np.array([e.weak for e in test])
    strong = np.array([e.strong for e in test])
    parts = _parts(test)

    learned, latency = _timed_scores(router, test)
    words = np.array([len(e.prompt.split()) for e in test], dtype=np.float64)
    rng = np.random.default_rng(SPLIT_SEED)
    draws_scores = [rng.random(len(test)) for _ in range(draws)]

    figures: dict[str, dict[str, Figures]] = {name: {} for name in ROUTERS}
    rule: dict[str, tuple[float, float, float]] = {}
    models: dict[str, tuple[float, float]] = {}
    for part, mask in parts.items():
        w, s = weak[mask], strong[mask]
        models[part] = (float(w.mean()), float(s.mean()))
        if math.isclose(models[part][0], models[part][1]):
            continue  # no gap to recover: PGR is undefined on this part
        figures["learned"][part] = _figures(learned[mask], w, s)
        figures["length"][part] = _figures(words[mask], w, s)
        figures["random"][part] = _random_figures([d[mask] for d in draws_scores], w, s)
        to_strong = words[mask] >= RULE_WORDS
        quality = float(np.where(to_strong, s, w).mean())
        rule[part] = (float(to_strong.mean()), quality, (quality - w.mean()) / (s.mean() - w.mean()))
    training = {
        k: router.meta[k] for k in ("candidate", "folds", "cv", "nested_cv", "train_counts") if k in router.meta
    }
    return EvalReport(
        counts={part: int(mask.sum()) for part, mask in parts.items()},
        split_matches=None if recorded is None else recorded == held_out_digest(test),
        models=models,
        figures=figures,
        rule=rule,
        latency_ms={**latency, "load": load_ms},
        draws=draws,
        training=training,
    )


def render(report: EvalReport) -> str:
    """The report as text: summary table, coarse curve, latency, training-time evidence."""
    counts = ", ".join(f"{p} {n}" for p, n in report.counts.items() if p != "pooled")
    match = {True: "yes", False: "NO — numbers do not follow the training protocol", None: "not recorded"}
    lines = [
        f"Held-out split: seed {SPLIT_SEED}, {TEST_FRACTION:.0%} of each dataset's distinct prompts, "
        f"{report.counts['pooled']} prompts ({counts}); the split the artifact was trained without: "
        f"{match[report.split_matches]}",
        f"strong = {STRONG_MODEL}, weak = {WEAK_MODEL}; quality = accuracy (MMLU, GSM8K), "
        "mean judge score/10 over both turns (MT-Bench)",
        "",
        "quality weak → strong  " + "  ".join(f"{p}: {w:.3f} → {s:.3f}" for p, (w, s) in report.models.items()),
        "",
        "APGR  [CPT(50%) / CPT(80%)]  (higher APGR, lower CPT: better)",
        f"{'router':<18}" + "".join(f"{p:>26}" for p in PARTS),
    ]
    labels = {"learned": "learned", "random": f"random ({report.draws} draws)", "length": "length (words)"}
    for name in ROUTERS:
        cells = []
        for part in PARTS:
            f = report.figures[name].get(part)
            cells.append("n/a" if f is None else _cell(f))
        lines.append(f"{labels[name]:<18}" + "".join(f"{c:>26}" for c in cells))
    lines.append(
        f"{f'<{RULE_WORDS} words → weak':<18}"
        + "".join(
            f"{f'{report.rule[p][0]:.1%} strong, PGR {report.rule[p][2]:.2f}' if p in report.rule else 'n/a':>26}"
            for p in PARTS
        )
    )
    lines += ["", "Cost/quality curve, pooled (quality / PGR at each strong-call share)"]
    lines.append(f"{'strong calls':>12}" + "".join(f"{labels[name]:>24}" for name in ROUTERS))
    for i, share in enumerate(CURVE_SHARES if "pooled" in report.figures["learned"] else ()):
        row = f"{share:>12.0%}"
        for name in ROUTERS:
            _, quality, pgr = report.figures[name]["pooled"].curve[i]
            row += f"{f'{quality:.3f} / {pgr:5.2f}':>24}"
        lines.append(row)
    lat = report.latency_ms
    lines += [
        "",
        f"StrongWeakRouter.score latency, one call per held-out prompt ({int(lat['n'])}): wall p50 "
        f"{lat['p50']:.3f} ms, p99 {lat['p99']:.3f} ms, max {lat['max']:.3f} ms; CPU p50 {lat['cpu_p50']:.3f} ms, "
        f"p99 {lat['cpu_p99']:.3f} ms (artifact load {lat['load']:.0f} ms)",
    ]
    lines += _training_lines(report.training)
    return "\n".join(lines)


def eval_router_command(*, data: Path | None, artifact: Path | None, as_json: bool) -> int:
    """``switchyard eval-router``: print the report (text or JSON); 1 when the split does not match."""
    report = evaluate(data, artifact=artifact)
    print(json.dumps(report.to_json(), indent=2) if as_json else render(report))
    return 1 if report.split_matches is False else 0


def _cell(f: Figures) -> str:
    apgr_text = f"{f.apgr:.3f}" if f.apgr_std is None else f"{f.apgr:.3f}±{f.apgr_std:.3f}"
    return f"{apgr_text} [{_pct(f.cpt50)}/{_pct(f.cpt80)}]"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _training_lines(training: Mapping[str, Any]) -> list[str]:
    if not training:
        return []
    lines = ["", f"Training (train split only): chose {training.get('candidate')} by {training.get('folds')}-fold CV"]
    chosen = training.get("cv", {}).get(training.get("candidate"), {})
    if chosen:
        lines.append("  its CV APGR  " + _mean_std_line(chosen))
    nested = training.get("nested_cv")
    if nested:
        lines.append(
            f"  nested CV over all data ({nested['outer_folds']} outer folds, selection inside each): APGR  "
            + _mean_std_line(nested["apgr"])
        )
    return lines


def _mean_std_line(figures: Mapping[str, Sequence[float]]) -> str:
    return "  ".join(f"{p} {figures[p][0]:.3f}±{figures[p][1]:.3f}" for p in PARTS if p in figures)


def _parts(examples: Sequence[Example]) -> dict[str, NDArray[np.bool_]]:
    names = np.array([e.dataset for e in examples])
    return {"pooled": np.ones(len(examples), dtype=np.bool_), **{d: names == d for d in DATASETS if (names == d).any()}}


def _figures(scores: NDArray[np.float64], weak: NDArray[np.float64], strong: NDArray[np.float64]) -> Figures:
    curve = routing_curve(scores, weak, strong)
    points = tuple((share, *curve.at(share)) for share in CURVE_SHARES)
    return Figures(apgr(curve), cpt(curve, 0.5), cpt(curve, 0.8), curve=points)


def _random_figures(
    draws: Sequence[NDArray[np.float64]], weak: NDArray[np.float64], strong: NDArray[np.float64]
) -> Figures:
    each = [_figures(d, weak, strong) for d in draws]
    values = np.array([f.apgr for f in each])
    points = tuple(
        (share, float(np.mean([f.curve[i][1] for f in each])), float(np.mean([f.curve[i][2] for f in each])))
        for i, share in enumerate(CURVE_SHARES)
    )
    return Figures(
        float(values.mean()),
        _mean_defined([f.cpt50 for f in each]),
        _mean_defined([f.cpt80 for f in each]),
        apgr_std=float(values.std()),
        curve=points,
    )


def _mean_defined(values: Sequence[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def _timed_scores(
    router: StrongWeakRouter, examples: Sequence[Example]
) -> tuple[NDArray[np.float64], dict[str, float]]:
    """Scores of every example, each call timed on its own, after a warm-up pass over a few prompts.

    Wall time is what a request waits, preemption by other processes included; thread CPU time is what the
    router itself costs. On a busy machine the two differ most in the tail.
    """
    for e in examples[:50]:
        router.score(e.prompt)
    scores = np.empty(len(examples))
    wall = np.empty(len(examples))
    cpu = np.empty(len(examples))
    for i, e in enumerate(examples):
        w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        scores[i] = router.score(e.prompt)
        cpu[i] = time.thread_time_ns() - c0
        wall[i] = time.perf_counter_ns() - w0
    wall /= 1e6
    cpu /= 1e6
    return scores, {
        "n": float(len(examples)),
        "p50": float(np.percentile(wall, 50)),
        "p99": float(np.percentile(wall, 99)),
        "max": float(wall.max()),
        "cpu_p50": float(np.percentile(cpu, 50)),
        "cpu_p99": float(np.percentile(cpu, 99)),
    }
