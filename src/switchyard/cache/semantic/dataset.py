"""The labelled question pairs the semantic cache is calibrated and measured on, and their embeddings.

``<data>/cache/qqp_pairs.jsonl.gz`` holds Quora question pairs with a ``duplicate`` label and a ``split``:
``calib`` is the only split anything is tuned on, ``eval`` is only ever reported. ``paraphrase_pairs.json``
holds pairs that all mean the same (a recall check on text unlike Quora's).

Embedding 137k questions takes tens of minutes on two shared cores, so vectors are kept on disk in chunks named
by a digest of the model and of the chunk's texts: a rerun reads them back in a second, an interrupted run
resumes where it stopped, and a sample reuses nothing it should not.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import orjson
from numpy.typing import NDArray

from ...embed import Encoder
from ...errors import ConfigError

__all__ = [
    "DEFAULT_CACHE_DIR",
    "DEFAULT_DATA_DIR",
    "EmbeddingCache",
    "Pairs",
    "load_paraphrases",
    "load_qqp",
]

DEFAULT_DATA_DIR = Path("../shared/data")
DEFAULT_CACHE_DIR = Path(".cache/switchyard/embeddings")
"""Relative to the working directory (the project root when run from there; ``.cache/`` is git-ignored)."""

Split = Literal["calib", "eval"]
_CHUNK = 1024

logger = logging.getLogger("switchyard.cache")


@dataclass(frozen=True, slots=True)
class Pairs:
    """Question pairs: ``a[i]`` is the cached question, ``b[i]`` the incoming one, ``duplicate[i]`` the label and
    ``ids[i]`` the pair's id in the data file (its row number where the file has none)."""

    a: list[str]
    b: list[str]
    duplicate: NDArray[np.bool_]
    ids: list[int]

    def __len__(self) -> int:
        return len(self.a)

    def head(self, n: int) -> Pairs:
        return Pairs(self.a[:n], self.b[:n], self.duplicate[:n], self.ids[:n])


def qqp_path(data_dir: Path) -> Path:
    return data_dir / "cache" / "qqp_pairs.jsonl.gz"


def load_qqp(data_dir: Path, split: Split) -> Pairs:
    """The pairs of one split, in file order."""
    path = qqp_path(data_dir)
    a: list[str] = []
    b: list[str] = []
    labels: list[bool] = []
    ids: list[int] = []
    try:
        with gzip.open(path, "rb") as handle:
            for line in handle:
                row = orjson.loads(line)
                if row["split"] == split:
                    a.append(row["a"])
                    b.append(row["b"])
                    labels.append(bool(row["duplicate"]))
                    ids.append(int(row["id"]))
    except OSError as exc:
        raise ConfigError(f"cannot read the question pairs at {path}: {exc} (set --data)") from exc
    return Pairs(a, b, np.asarray(labels, dtype=np.bool_), ids)


def load_paraphrases(data_dir: Path) -> Pairs:
    """``paraphrase_pairs.json``: every pair is a true match."""
    path = data_dir / "cache" / "paraphrase_pairs.json"
    try:
        rows = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read the paraphrase pairs at {path}: {exc} (set --data)") from exc
    return Pairs(
        [r["origin"] for r in rows], [r["similar"] for r in rows], np.ones(len(rows), dtype=np.bool_),
        list(range(len(rows))),
    )


class EmbeddingCache:
    """Embeddings of many texts through ``encoder``, read from and written to ``directory`` chunk by chunk."""

    def __init__(self, encoder: Encoder, directory: Path = DEFAULT_CACHE_DIR) -> None:
        self.encoder = encoder
        self.directory = directory
        self.computed = 0
        """Texts embedded by this instance (the rest came from disk)."""
        self.seconds = 0.0
        """Time spent embedding them."""
        self._model = _model_digest(encoder)

    def embed(
        self, texts: Iterable[str], *, progress: Callable[[int, int], None] | None = None
    ) -> dict[str, NDArray[np.float32]]:
        """Each distinct text's unit vector. ``progress(done, total)`` is called after each chunk."""
        import time

        unique = sorted(set(texts))
        out: dict[str, NDArray[np.float32]] = {}
        folder = self.directory / self._model
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            path = folder / f"{_texts_digest(chunk)}.npy"
            vectors = _read(path, len(chunk), self.encoder.dim)
            if vectors is None:
                began = time.perf_counter()
                vectors = self.encoder.encode(chunk, batch_size=64)
                self.seconds += time.perf_counter() - began
                self.computed += len(chunk)
                _write(path, vectors)
            out.update(zip(chunk, vectors, strict=True))
            if progress is not None:
                progress(min(start + _CHUNK, len(unique)), len(unique))
        return out

    def pair_vectors(
        self, pairs: Pairs, *, progress: Callable[[int, int], None] | None = None
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """``(A, B)``: the embeddings of ``pairs.a`` and ``pairs.b``, row by row."""
        table = self.embed([*pairs.a, *pairs.b], progress=progress)
        return _stack(table, pairs.a, self.encoder.dim), _stack(table, pairs.b, self.encoder.dim)


def _stack(table: dict[str, NDArray[np.float32]], texts: Sequence[str], dim: int) -> NDArray[np.float32]:
    out = np.empty((len(texts), dim), dtype=np.float32)
    for i, text in enumerate(texts):
        out[i] = table[text]
    return out


def _model_digest(encoder: Encoder) -> str:
    h = hashlib.blake2b(digest_size=8)
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        path = encoder.model_dir / name
        h.update(name.encode())
        h.update(str(path.stat().st_size).encode())
    h.update(str(encoder.max_tokens).encode())
    h.update((encoder.model_dir / "config.json").read_bytes())
    return h.hexdigest()


def _texts_digest(texts: Sequence[str]) -> str:
    h = hashlib.blake2b(digest_size=12)
    for text in texts:
        raw = text.encode()
        h.update(len(raw).to_bytes(4, "little"))
        h.update(raw)
    return h.hexdigest()


def _read(path: Path, rows: int, dim: int) -> NDArray[np.float32] | None:
    try:
        vectors = np.load(path)
    except (OSError, ValueError):
        return None
    if vectors.shape != (rows, dim) or vectors.dtype != np.float32:
        logger.warning("ignoring embedding cache file %s of unexpected shape %s", path, vectors.shape)
        return None
    return np.asarray(vectors, dtype=np.float32)


def _write(path: Path, vectors: NDArray[np.float32]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name and renamed, so an interrupted run never leaves a truncated chunk behind.
    partial = path.with_suffix(".partial.npy")
    np.save(partial, vectors)
    partial.replace(path)
