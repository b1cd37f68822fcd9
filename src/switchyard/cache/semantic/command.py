"""``switchyard eval-cache``: the semantic cache's safety and hit-rate figures on the held-out Quora pairs."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import orjson

from ...embed import get_encoder
from .adjudication import AdjudicatedFigures, Estimate
from .dataset import DEFAULT_CACHE_DIR, DEFAULT_DATA_DIR
from .evaluate import CacheEvaluation, CurvePoint, evaluate
from .verifier import Verifier

__all__ = ["add_arguments", "eval_cache_command", "render"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="shared data (default ../shared/data)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--limit", type=int, default=None, help="only the first N eval (and paraphrase) pairs")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="where embeddings are kept")
    parser.add_argument("--verifier", type=Path, default=None, help="a verifier artifact (default: the bundled one)")
    parser.add_argument("--min-served", type=int, default=50, help="fewest served pairs a curve point may rest on")


def eval_cache_command(args: argparse.Namespace) -> int:
    verifier = Verifier.load(args.verifier) if args.verifier else Verifier.bundled()
    began = time.perf_counter()
    result = evaluate(
        args.data, encoder=get_encoder(), verifier=verifier, cache_dir=args.cache_dir, limit=args.limit,
        min_served=args.min_served,
        progress=None if args.json else lambda m: print(f"\r{m}", end="", file=sys.stderr, flush=True),
    )
    result.seconds["total"] = round(time.perf_counter() - began, 2)
    if not args.json:
        print(file=sys.stderr)
    print(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2).decode() if args.json else render(result))
    return 0


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def _row(label: str, p: CurvePoint) -> str:
    return (f"  {label:<22} {p.threshold:>7.4f} {p.served:>7} {_pct(p.precision):>8} {_pct(p.false_hit_rate):>8} "
            f"{_pct(p.hit_rate):>8} {_pct(p.served_share):>8}")


def _estimate(e: Estimate) -> str:
    spread = f" ± {100 * 1.96 * e.stderr / e.served:.1f}" if e.stderr and e.served else ""
    return (f"threshold {e.threshold:.4f}: {e.served} served, {e.correct:,.0f} judged right, precision "
            f"{100 * e.precision:.1f}{spread} % ({e.judged} judged)")


def _adjudicated(a: AdjudicatedFigures) -> list[str]:
    lines = [f"Blind second reading ({a.judged} pairs judged without labels or scores; "
             "switchyard/data/semantic_adjudication.json):"]
    v = a.verified
    if v is None:
        lines.append("  the sample was drawn for another verifier artifact: verifier figures not available")
    else:
        lines.append(f"  verified cache at its threshold: {v.served} served, {v.served - round(v.correct)} judged "
                     f"wrong = {_pct(v.wrong_rate).strip()} wrong answers (95 % upper bound "
                     f"{_pct(v.wrong_rate_upper()).strip()})")
        if a.cosine_at_same_precision is None:
            lines.append(f"  static cosine never reaches that precision (its best: {_estimate(a.cosine_most_precise)})"
                         ", so its hit rate there is 0")
        else:
            lines.append(f"  static cosine at equal precision: {_estimate(a.cosine_at_same_precision)}; ratio "
                         f"{a.ratio or 0:.2f}x")
    best = a.at_cosine_best
    if best["ratio"] is not None:
        lines.append(f"  at cosine's best precision ({100 * (best['precision'] or 0):.1f} %): verified "
                     f"{best['verified_correct'] or 0:,.0f} vs cosine {best['cosine_correct'] or 0:,.0f} judged-right "
                     f"answers = {best['ratio']:.2f}x (both thresholds with hindsight)")
    g = a.agreement
    lines.append(
        f"  vs the Quora labels on the judged pairs: labelled duplicate {g['label_duplicate_judged_same']} same / "
        f"{g['label_duplicate_judged_different']} different; labelled non-duplicate "
        f"{g['label_different_judged_same']} same / {g['label_different_judged_different']} different"
    )
    lines += [f"  served, judged wrong: pair {w['id']} ({w['reason'] or 'no reason given'})" for w in a.wrong_served]
    if a.verifier_curve:
        lines.append("  verified cache by score threshold (estimates below its threshold rest on samples):")
        for t in (0.85, 0.90, 0.93, 0.95):
            point = next((e for e in a.verifier_curve if e.threshold >= t), None)
            if point is not None:
                lines.append(f"    {_estimate(point)}")
    return lines


def render(r: CacheEvaluation) -> str:
    head = f"  {'':<22} {'thresh':>7} {'served':>7} {'precis':>8} {'false':>8} {'hit rate':>8} {'of all':>8}"
    lines = [
        f"Semantic cache on split=eval: {r.pairs} pairs, {r.duplicates} labelled duplicate",
        f"protocol: {r.protocol}",
        "hit rate = duplicates served / all duplicates; false = wrong answers among served; "
        "'of all' = pairs served / all pairs",
        "",
        "Static cosine threshold (baseline):",
        head,
        *(_row(f"cosine >= {p.threshold:.2f}", p) for p in r.cosine_curve),
        _row("most precise cosine", r.cosine_most_precise),
        "",
        "Verified cache (hard checks + learned verifier), by score threshold:",
        head,
        *(_row(f"score >= {p.threshold:.4f}", p) for p in r.verified_curve),
        "",
        "Operating point (threshold fixed on calib):",
        head,
        _row("verified cache", r.operating),
        _row("  exact stage", r.exact_stage),
        _row("  verifier", r.by_verifier),
    ]
    if r.baseline is not None:
        lines.append(_row("cosine, equal precision", r.baseline))
    if r.guarded_cosine is not None:
        lines.append(_row("cosine + hard checks", r.guarded_cosine))
    lines.append(
        f"  false-hit rate {_pct(r.operating.false_hit_rate).strip()}, hit rate {_pct(r.operating.hit_rate).strip()}; "
        + (f"hit-rate ratio vs static cosine at equal precision: {r.hit_rate_ratio:.2f}x"
           if r.hit_rate_ratio is not None else
           f"no static cosine threshold reaches precision {r.operating.precision:.3f} over >= {r.min_served} pairs "
           f"(its best is {r.cosine_most_precise.precision:.3f}), so its hit rate there is 0")
    )
    verifier_only = r.by_verifier
    lines.append(
        f"  of which the verifier decided {verifier_only.served}: false-hit rate "
        f"{_pct(verifier_only.false_hit_rate).strip()}; the exact stage (texts equal once normalised) "
        f"{r.exact_stage.served}: false-hit rate {_pct(r.exact_stage.false_hit_rate).strip()} "
        "(identical questions labelled non-duplicate)"
    )
    best = r.at_cosine_best
    lines.append(
        f"  at the most precise point static cosine reaches (precision {best['precision'] or 0:.3f}): verified "
        f"{_pct(best['verified_hit_rate'] or 0).strip()} vs cosine {_pct(best['cosine_hit_rate'] or 0).strip()} "
        + ("" if best["ratio"] is None else f"= {best['ratio']:.2f}x ")
        + "(both thresholds with hindsight)"
    )
    if r.calib_forecast is not None:
        lines.append(f"  calib-only forecast (recorded in the artifact): {r.calib_forecast}")
    if r.adjudicated is not None:
        lines += ["", *_adjudicated(r.adjudicated)]
    lines += ["", "Best hit rate at equal precision (thresholds picked with hindsight on eval, both methods):",
              f"  {'precision':>9} {'verified':>9} {'cosine':>9} {'cos+checks':>10} {'ratio':>7}"]
    for row in r.equal_precision:
        ratio = row["ratio"]
        verified, cosine = _pct(row["verified_hit_rate"] or 0), _pct(row["cosine_hit_rate"] or 0)
        guarded = _pct(row["guarded_cosine_hit_rate"] or 0)
        lines.append(
            f"  {row['precision']:>9.2f} {verified:>9} {cosine:>9} {guarded:>10} "
            f"{'-' if ratio is None else f'{ratio:.2f}x':>7}"
        )
    lines += [
        "",
        f"Hard negatives (hand-made, same words, different question): {len(r.hard_negative_hits)} of "
        f"{r.hard_negative_pairs} served by the verified cache; static cosine >= 0.92 would serve "
        f"{r.hard_negative_cosine_hits}",
        *(f"  SERVED {h['kind']}: {h['a']} | {h['b']} (score {h['score']:.3f})" for h in r.hard_negative_hits),
        f"Paraphrase pairs (all true matches): verified cache serves {_pct(r.paraphrase_hit_rate).strip()} of "
        f"{r.paraphrase_pairs}; cosine >= 0.92 serves {_pct(r.paraphrase_cosine_hit_rate).strip()}",
        f"Label ceiling: {r.identical_pairs} eval pairs have the same letters and digits (case, spacing and "
        f"punctuation aside); {_pct(r.identical_labelled_duplicate).strip()} of them are labelled duplicate",
        "Hard checks on eval (pairs ruled out / of which labelled duplicate): "
        + ", ".join(f"{k} {v['pairs']}/{v['labelled_duplicate']}" for k, v in sorted(r.vetoes.items())),
        "Seconds: " + ", ".join(f"{k} {v:g}" for k, v in r.seconds.items()),
    ]
    return "\n".join(lines)
