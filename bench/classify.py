"""Task classifier: latency of each tier and accuracy on labelled data. ``python bench/classify.py``.

Latency is measured per prompt, one at a time as the router calls it, over real prompts of mixed length: MT-Bench
first turns, GSM8K problems and MMLU questions from ``../shared/data/routing`` (read in place). The rules tier is
``by_rules``; the embedding tier is ``by_embedding`` (tokenise, encode, compare with the centroids). Wall time is
what a request waits; thread CPU time is printed beside it because other processes on a shared 2-core machine
stretch wall time without the encoder doing more work. Target: embedding tier p99 <= 5 ms.

Accuracy: MT-Bench's 80 questions with their categories mapped onto our tasks (writing and role-play ->
creative_writing, stem and humanities -> reasoning, the rest by name), GSM8K (every prompt is maths), and the
held-out chat / quick-lookup set in ``tests/routing/task_heldout.yaml``. None of it is in the bundled examples.

Exits 1 when the latency target is missed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from switchyard.embed import Encoder
from switchyard.routing.classify import (
    DEFAULT_LAYERS,
    DEFAULT_MAX_TOKENS,
    DEFAULT_TAIL_TOKENS,
    TaskClassifier,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "routing"
HELDOUT = ROOT / "tests" / "routing" / "task_heldout.yaml"
TARGET_P99_MS = 5.0

MT_BENCH_TASK = {
    "writing": "creative_writing", "roleplay": "creative_writing", "reasoning": "reasoning", "math": "math",
    "coding": "coding", "extraction": "extraction", "stem": "reasoning", "humanities": "reasoning",
}
"""MT-Bench's stem and humanities questions are open explanations and analyses ("how have the Alps influenced
settlement...", "discuss antitrust laws..."), which is what our reasoning task covers."""

Labelled = list[tuple[str, str]]


def mt_bench() -> Labelled:
    with (DATA / "mt_bench" / "question.jsonl").open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [(row["turns"][0], MT_BENCH_TASK[row["category"]]) for row in rows]


def gsm8k(n: int, rng: random.Random) -> Labelled:
    with (DATA / "gsm8k" / "gsm8k_responses.csv").open(encoding="utf-8", newline="") as f:
        prompts = [row["prompt"] for row in csv.DictReader(f)]
    return [(p, "math") for p in rng.sample(prompts, min(n, len(prompts)))]


def mmlu(n: int, rng: random.Random) -> list[str]:
    prompts: list[str] = []
    for path in sorted((DATA / "mmlu").glob("mmlu_*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            prompts.extend(row["prompt"] for row in csv.DictReader(f))
    return rng.sample(prompts, min(n, len(prompts)))


def heldout() -> Labelled:
    loaded = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))
    return [(text, task) for task, texts in loaded.items() for text in texts]


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn: Callable[[str], object], prompts: Sequence[str]) -> tuple[list[float], list[float]]:
    """Wall and thread-CPU milliseconds of ``fn`` per prompt."""
    wall, cpu = [], []
    for text in prompts:
        w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        fn(text)
        cpu.append((time.thread_time_ns() - c0) / 1e6)
        wall.append((time.perf_counter_ns() - w0) / 1e6)
    return wall, cpu


def latency_line(name: str, wall: list[float], cpu: list[float]) -> str:
    def row(v: list[float]) -> str:
        return f"p50 {pct(v, .5):7.3f}  p95 {pct(v, .95):7.3f}  p99 {pct(v, .99):7.3f}  max {max(v):7.3f}"
    return f"  {name:<22} wall {row(wall)} ms\n  {'':<22} cpu  {row(cpu)} ms"


def accuracy(clf: TaskClassifier, data: Labelled, name: str) -> None:
    n = len(data)
    by_tier: Counter[str] = Counter()
    right: Counter[str] = Counter()
    emb_right = 0
    for text, label in data:
        c = clf.classify_text(text)
        by_tier[c.tier] += 1
        right[c.tier] += c.task == label
        emb_right += clf.by_embedding(text).task == label
    answered = n - by_tier["none"]
    parts = [f"{tier} {by_tier[tier] / n:4.0%} answered, {right[tier]}/{by_tier[tier]} right"
             for tier in ("rules", "embedding") if by_tier[tier]]
    print(f"  {name:<26} n={n:<4} accuracy {sum(right.values()) / n:5.1%} of all, "
          f"{sum(right.values()) / max(answered, 1):5.1%} of answered | " + "; ".join(parts)
          + f"; no answer {by_tier['none'] / n:.0%} | embedding tier alone on all: {emb_right / n:.1%}")


def sweep(clf: TaskClassifier, data: Labelled) -> None:
    """Coverage and accuracy of the embedding tier (on what the rules leave) per ``min_confidence``."""
    rest = [(clf.by_embedding(t), label) for t, label in data if clf.by_rules(t).task is None]
    print(f"  min_confidence sweep over the {len(rest)} prompts the rules leave (MT-Bench + held-out):")
    for threshold in (0.0, 0.01, 0.02, 0.03, 0.05, 0.08):
        kept = [(c, label) for c, label in rest if c.confidence >= threshold]
        hits = sum(c.task == label for c, label in kept)
        print(f"    {threshold:4.2f}: answers {len(kept) / len(rest):4.0%}, right {hits / max(len(kept), 1):5.1%}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=1200, help="latency prompts (MT-Bench + GSM8K + MMLU)")
    parser.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS)
    parser.add_argument("--tail-tokens", type=int, default=DEFAULT_TAIL_TOKENS)
    parser.add_argument("--layers", type=int, default=DEFAULT_LAYERS or 0, help="0: all of them")
    parser.add_argument("--blas-threads", type=int, default=1, help="0: leave numpy's BLAS threads alone")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"no data at {DATA}; this benchmark reads the shared routing data", file=sys.stderr)
        return 2
    rng = random.Random(7)
    load = os.getloadavg()

    t0 = time.perf_counter()
    encoder = Encoder(blas_threads=args.blas_threads or None)
    t1 = time.perf_counter()
    clf = TaskClassifier(
        encoder=encoder, max_tokens=args.max_tokens, tail_tokens=args.tail_tokens, layers=args.layers or None
    )
    t2 = time.perf_counter()
    print(f"encoder load {1000 * (t1 - t0):.0f} ms; classifier construction (centroids of "
          f"{len(clf.tasks)} tasks) {1000 * (t2 - t1):.0f} ms")
    print(f"embedding tier: layers {clf.layers or 'all'}, max_tokens {clf.max_tokens}, tail_tokens "
          f"{clf.tail_tokens}, min_confidence {clf.min_confidence}")

    mt = mt_bench()
    rest = args.prompts - len(mt)
    prompts = [t for t, _ in mt] + [t for t, _ in gsm8k(rest // 3, rng)] + mmlu(rest - rest // 3, rng)
    rng.shuffle(prompts)
    tokens = [encoder.token_count(p) for p in prompts]
    print(f"{len(prompts)} prompts: tokens p50 {pct(tokens, .5)}, p90 {pct(tokens, .9)}, max {max(tokens)}; "
          f"{sum(t > clf.max_tokens for t in tokens) / len(tokens):.0%} longer than max_tokens")

    for text in prompts[:50]:
        clf.classify_text(text)
    rules_wall, rules_cpu = timed(clf.by_rules, prompts)
    emb_wall, emb_cpu = timed(clf.by_embedding, prompts)
    full_wall, full_cpu = timed(clf.classify_text, prompts)
    load_after = os.getloadavg()
    print(f"\nlatency per prompt (load average {load[0]:.1f} before, {load_after[0]:.1f} after; "
          f"{os.cpu_count()} cores)")
    print(latency_line("rules tier", rules_wall, rules_cpu))
    print(latency_line("embedding tier", emb_wall, emb_cpu))
    print(latency_line("classify_text (both)", full_wall, full_cpu))

    print("\nencoder alone, all layers (the sentence-transformers vector, as a semantic cache would use it), "
          "by the prompt's length in tokens:")
    for bucket in (16, 32, 64, 128, 256):
        chosen = [p for p, n in zip(prompts, tokens, strict=True) if bucket // 2 < n <= bucket][:100]
        if chosen:
            wall, cpu = timed(encoder.encode_one, chosen)
            print(latency_line(f"{bucket // 2 + 1}-{bucket} tokens (n={len(chosen)})", wall, cpu))

    print("\naccuracy")
    labelled_mt, labelled_held = mt, heldout()
    accuracy(clf, labelled_mt, "MT-Bench (80, mapped)")
    accuracy(clf, labelled_held, "held-out (tests/routing)")
    accuracy(clf, gsm8k(300, rng), "GSM8K sample (all math)")
    sweep(clf, labelled_mt + labelled_held)

    p99 = pct(emb_wall, 0.99)
    ok = p99 <= TARGET_P99_MS
    print(f"\n{'PASS' if ok else 'FAIL'}: embedding tier p99 {p99:.2f} ms (target <= {TARGET_P99_MS} ms; "
          f"cpu p99 {pct(emb_cpu, 0.99):.2f} ms, median {statistics.median(emb_wall):.2f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
