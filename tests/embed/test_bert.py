"""The numpy BERT pieces that are ours rather than numpy's: exact GELU and the config checks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from switchyard.embed.bert import BertConfig, gelu_


def test_gelu_is_the_exact_erf_form() -> None:
    xs = np.linspace(-10.0, 10.0, 40_001, dtype=np.float32)
    expected = np.array([0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0))) for x in xs.tolist()])
    got = gelu_(xs.copy())
    np.testing.assert_allclose(got, expected, atol=2e-6, rtol=1e-5)
    # Far from the tanh approximation BERT does not use: it is off by ~1e-3 around |x| = 2.
    tanh_form = 0.5 * xs * (1 + np.tanh(math.sqrt(2 / math.pi) * (xs + 0.044715 * xs**3)))
    assert np.abs(tanh_form - expected).max() > 100 * np.abs(got - expected).max()


def test_gelu_works_in_place() -> None:
    x = np.array([-1.0, 0.0, 1.0], dtype=np.float32)
    out = gelu_(x)
    assert out is x
    assert x[1] == 0.0
    assert x[2] == pytest.approx(0.8413447, abs=1e-6)


def _write_config(tmp_path: Path, **overrides: object) -> Path:
    config = {
        "hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 16,
        "max_position_embeddings": 16, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
    } | overrides
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def test_config_reads_the_shape(tmp_path: Path) -> None:
    config = BertConfig.from_file(_write_config(tmp_path))
    assert (config.hidden, config.heads, config.layers, config.intermediate) == (8, 2, 1, 16)


@pytest.mark.parametrize("override", [{"hidden_act": "gelu_new"}, {"position_embedding_type": "relative_key"}])
def test_config_refuses_what_the_forward_pass_does_not_implement(tmp_path: Path, override: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="only BERT"):
        BertConfig.from_file(_write_config(tmp_path, **override))
