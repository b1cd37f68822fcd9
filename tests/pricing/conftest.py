"""The real ``o200k_base`` tokenizer (a development dependency) and a held-out sample of the shared corpora."""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import importlib.metadata
import json
from pathlib import Path
from unittest import mock

import pytest
import tiktoken
import tiktoken_ext.openai_public as openai_public

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
RANK_FILE = "bpe_openai/data/o200k_base.tiktoken.gz"
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"


@pytest.fixture(scope="session")
def o200k() -> tiktoken.Encoding:
    """tiktoken's own ``o200k_base`` definition over the rank file bundled in ``bpe-openai``, checked against the
    hash tiktoken pins; tiktoken's download is replaced, so nothing leaves the machine."""
    # Located through the distribution's metadata: importing bpe_openai itself loads its own data and warns.
    packed = Path(str(importlib.metadata.distribution("bpe-openai").locate_file(RANK_FILE))).read_bytes()
    raw = gzip.decompress(packed)
    assert hashlib.sha256(raw).hexdigest() == O200K_SHA256
    ranks = {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in raw.decode().splitlines())}
    with mock.patch.object(openai_public, "load_tiktoken_bpe", return_value=ranks):
        return tiktoken.Encoding(**openai_public.o200k_base())


def held_out(text: str) -> bool:
    """The split bench/tokens.py reports on; the estimator's coefficients were fitted on the other half."""
    return hashlib.blake2b(text.encode(), digest_size=4).digest()[0] % 2 == 1


@pytest.fixture(scope="session")
def held_out_texts() -> list[str]:
    """A few hundred held-out prompts: MMLU questions, GSM8K problems and Quora questions."""
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    texts: list[str] = []
    with (DATA / "routing" / "mmlu" / "mmlu_high_school_psychology.csv").open(newline="", encoding="utf-8") as f:
        texts += [row["prompt"] for row in csv.DictReader(f) if held_out(row["prompt"])][:150]
    with (DATA / "routing" / "gsm8k" / "gsm8k_responses.csv").open(newline="", encoding="utf-8") as f:
        texts += [row["prompt"] for row in csv.DictReader(f) if held_out(row["prompt"])][:100]
    with gzip.open(DATA / "cache" / "qqp_pairs.jsonl.gz", "rt", encoding="utf-8") as f:
        questions: list[str] = []
        for line in f:
            question = json.loads(line)["a"]
            if question and held_out(question):
                questions.append(question)
            if len(questions) == 250:
                break
    return texts + questions
