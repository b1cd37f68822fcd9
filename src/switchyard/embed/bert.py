"""A BERT encoder's forward pass in numpy (float32), for inference only.

The weights are rearranged once at load so the per-call work is a handful of large matrix products:
Q, K and V are fused into one ``(hidden, 3·hidden)`` matrix with the attention scale ``1/√d_head`` folded into
the Q columns, every dense weight is stored transposed (``x @ W`` without a transpose per call), and the
token-type-0 embedding is folded into the position table (a sentence embedding never uses segment B).
Element-wise steps (LayerNorm, softmax, GELU) run in place on the activations to avoid allocations.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["BertConfig", "BertModel", "gelu_"]

F32 = np.float32
Array = NDArray[np.float32]

# erf(x) for float32 as a rational function (the odd/even minimax polynomials Eigen and XLA use), good to a
# few ulp on [-4, 4], beyond which erf is ±1 in float32. numpy has no erf ufunc; this needs only multiply-adds
# and one division, which numpy vectorises, and measured about three times faster than the exp-based
# Abramowitz-Stegun form.
_ERF_NUM = tuple(F32(c) for c in (
    -2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
    -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02,
))
_ERF_DEN = tuple(F32(c) for c in (
    -1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
    -1.42647390514189e-02,
))
_SQRT1_2 = F32(1.0 / math.sqrt(2.0))
_ERF_CLIP = F32(4.0 * math.sqrt(2.0))


def gelu_(x: Array) -> Array:
    """GELU in its exact form, ``x·Φ(x) = x·(1 + erf(x/√2))/2`` (BERT's ``hidden_act: gelu``), in place."""
    z = np.clip(x, -_ERF_CLIP, _ERF_CLIP)
    z *= _SQRT1_2
    z2 = z * z
    num = z2 * _ERF_NUM[0]
    num += _ERF_NUM[1]
    for c in _ERF_NUM[2:]:
        num *= z2
        num += c
    num *= z
    den = z2 * _ERF_DEN[0]
    den += _ERF_DEN[1]
    for c in _ERF_DEN[2:]:
        den *= z2
        den += c
    num /= den
    num += F32(1.0)
    num *= F32(0.5)
    x *= num
    return x


def _layer_norm_(x: Array, weight: Array, bias: Array, eps: float) -> Array:
    """LayerNorm over the last axis of a 2-D array, in place."""
    x -= x.mean(axis=-1, keepdims=True)
    scale = np.einsum("ij,ij->i", x, x)[:, None]
    scale *= F32(1.0 / x.shape[-1])
    scale += F32(eps)
    np.sqrt(scale, out=scale)
    np.reciprocal(scale, out=scale)  # one division per row, then a multiply per element
    x *= scale
    x *= weight
    x += bias
    return x


@dataclass(frozen=True, slots=True)
class BertConfig:
    hidden: int
    heads: int
    layers: int
    intermediate: int
    max_positions: int
    eps: float

    @classmethod
    def from_file(cls, path: Path) -> BertConfig:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("hidden_act", "gelu") != "gelu" or raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{path}: only BERT with exact GELU and absolute positions is supported")
        return cls(
            hidden=int(raw["hidden_size"]),
            heads=int(raw["num_attention_heads"]),
            layers=int(raw["num_hidden_layers"]),
            intermediate=int(raw["intermediate_size"]),
            max_positions=int(raw["max_position_embeddings"]),
            eps=float(raw["layer_norm_eps"]),
        )


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv_w: Array  # (H, 3H), Q columns pre-scaled
    qkv_b: Array
    out_w: Array  # (H, H)
    out_b: Array
    ln1_w: Array
    ln1_b: Array
    ffn_in_w: Array  # (H, I)
    ffn_in_b: Array
    ffn_out_w: Array  # (I, H)
    ffn_out_b: Array
    ln2_w: Array
    ln2_b: Array


class BertModel:
    """BERT's encoder stack: token ids in, the last layer's hidden states out."""

    def __init__(self, config: BertConfig, tensors: dict[str, NDArray[np.generic]]) -> None:
        self.config = config

        def get(name: str) -> Array:
            return np.asarray(tensors[name], dtype=F32)

        def dense(name: str) -> Array:
            # torch's Linear stores (out, in); a C-contiguous (in, out) copy lets BLAS stream it as-is.
            return np.ascontiguousarray(get(f"{name}.weight").T)

        head_dim = config.hidden // config.heads
        scale = F32(1.0 / math.sqrt(head_dim))
        self.word = get("embeddings.word_embeddings.weight")
        self.pos_type = get("embeddings.position_embeddings.weight") + get("embeddings.token_type_embeddings.weight")[0]
        self.emb_ln_w = get("embeddings.LayerNorm.weight")
        self.emb_ln_b = get("embeddings.LayerNorm.bias")
        self.layers: list[_Layer] = []
        for i in range(config.layers):
            p = f"encoder.layer.{i}"
            att = f"{p}.attention.self"
            qkv_w = np.concatenate([dense(f"{att}.query") * scale, dense(f"{att}.key"), dense(f"{att}.value")], axis=1)
            qkv_b = np.concatenate([get(f"{att}.query.bias") * scale, get(f"{att}.key.bias"), get(f"{att}.value.bias")])
            self.layers.append(_Layer(
                qkv_w=np.ascontiguousarray(qkv_w),
                qkv_b=qkv_b,
                out_w=dense(f"{p}.attention.output.dense"),
                out_b=get(f"{p}.attention.output.dense.bias"),
                ln1_w=get(f"{p}.attention.output.LayerNorm.weight"),
                ln1_b=get(f"{p}.attention.output.LayerNorm.bias"),
                ffn_in_w=dense(f"{p}.intermediate.dense"),
                ffn_in_b=get(f"{p}.intermediate.dense.bias"),
                ffn_out_w=dense(f"{p}.output.dense"),
                ffn_out_b=get(f"{p}.output.dense.bias"),
                ln2_w=get(f"{p}.output.LayerNorm.weight"),
                ln2_b=get(f"{p}.output.LayerNorm.bias"),
            ))

    @classmethod
    def load(cls, model_dir: Path) -> BertModel:
        """Load ``config.json`` and ``model.safetensors`` from a Hugging Face BERT model directory."""
        from safetensors.numpy import load_file

        config = BertConfig.from_file(model_dir / "config.json")
        return cls(config, load_file(model_dir / "model.safetensors"))

    def forward(
        self, ids: NDArray[np.int64], mask: NDArray[np.bool_] | None = None, *, layers: int | None = None
    ) -> Array:
        """Hidden states ``(batch, seq, hidden)`` for ``ids`` ``(batch, seq)``.

        ``mask`` marks real tokens; ``None`` means there is no padding (the single-text case skips the mask).
        ``layers`` stops after that many encoder layers (all of them by default).
        """
        cfg = self.config
        batch, seq = ids.shape
        n, hidden, heads = batch * seq, cfg.hidden, cfg.heads
        head_dim = hidden // heads
        x = self.word[ids.reshape(-1)]
        x.reshape(batch, seq, hidden)[...] += self.pos_type[:seq]
        _layer_norm_(x, self.emb_ln_w, self.emb_ln_b, cfg.eps)
        # Padding keys get the most negative float32 added, so their softmax weight underflows to exactly 0
        # (what Hugging Face's BertModel does). Every row keeps [CLS], so no row is all -inf.
        key_bias = None if mask is None else np.where(mask, F32(0.0), np.finfo(F32).min)[:, None, None, :]
        for layer in self.layers[:layers]:
            qkv = x @ layer.qkv_w
            qkv += layer.qkv_b
            q, k, v = qkv.reshape(batch, seq, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
            scores = q @ k.transpose(0, 1, 3, 2)  # (batch, heads, seq, seq)
            if key_bias is not None:
                scores += key_bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, hidden)
            attn = context @ layer.out_w
            attn += layer.out_b
            attn += x
            x = _layer_norm_(attn, layer.ln1_w, layer.ln1_b, cfg.eps)
            inner: Array = x @ layer.ffn_in_w
            inner += layer.ffn_in_b
            gelu_(inner)
            out: Array = inner @ layer.ffn_out_w
            out += layer.ffn_out_b
            out += x
            x = _layer_norm_(out, layer.ln2_w, layer.ln2_b, cfg.eps)
        return x.reshape(batch, seq, hidden)
