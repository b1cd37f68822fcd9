"""What kind of task a request is, for routes that send each kind to different models.

Task ids: ``coding``, ``creative_writing``, ``extraction``, ``reasoning``, ``math``, ``chat``, ``quick_lookup``.

Two tiers, cheapest first:

- **rules** (``task_rules.py``): regex signals such as code fences, tracebacks, equations, "write a poem",
  "extract ... as JSON", greetings, short who/when/where questions. Tens of microseconds; answers only when its
  signals agree.
- **embedding**: the opening of the text is embedded with the packaged MiniLM encoder (``switchyard.embed``,
  numpy on the CPU, never a download; by default its first layer only, see ``DEFAULT_LAYERS``) and compared
  with one centroid per task, the normalised mean of that task's example utterances embedded the same way
  (``data/task_examples.yaml`` unless the caller gives its own). The confidence is the margin between the two
  most similar centroids: a text half-way between two tasks has a margin near 0. 2-3 ms of CPU.

Below ``min_confidence`` the classifier answers ``task=None`` (tier ``"none"``) and the route uses its default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import numpy as np
import yaml
from numpy.typing import NDArray

from ..embed import Encoder, get_encoder
from ..errors import ConfigError
from ..types import ChatRequest, TextPart
from .task_rules import match_rules

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_MIN_CONFIDENCE",
    "TASKS",
    "Classification",
    "TaskClassifier",
    "bundled_examples",
    "request_text",
]

TASKS: tuple[str, ...] = ("coding", "creative_writing", "extraction", "reasoning", "math", "chat", "quick_lookup")

Tier = Literal["rules", "embedding", "none"]

DEFAULT_MIN_CONFIDENCE = 0.02
"""Margin between the two nearest centroids below which the embedding tier gives no answer. From the sweep
``bench/classify.py`` prints (MT-Bench and the held-out set): of the prompts the rules leave, about two thirds
get an answer at 0.02 and ~94% of those are right; 0.01 answers 85% at ~84%, 0.05 a third at ~100%."""

DEFAULT_LAYERS: int | None = 1
DEFAULT_MAX_TOKENS = 24
DEFAULT_TAIL_TOKENS = 0
"""How much of the model and of the text the embedding tier uses: the first transformer layer over the first 24
tokens ([CLS] and [SEP] included). All six layers took 12-15 ms of CPU for up to 32 tokens and about 21 ms for
33-64 on the 2-core target (numpy's float32 products run at 55-75 GFLOPS on one core), far over the 5 ms target;
one layer over 24 tokens takes 2-3 ms. On the labelled data in ``bench/classify.py`` that costs little accuracy
once the rules have taken the obvious cases (they catch most maths word problems, where depth matters most):
16, 24 or 32 tokens got the same number of prompts right overall, and keeping a long text's last tokens
(``tail_tokens``) did not help. ``layers=None, max_tokens=128`` is the most accurate setting, at about 40 ms."""

_CHARS_PER_TOKEN = 8
"""Generous upper bound of characters per token, so pre-cutting the text never cuts below ``max_tokens``."""

_RULE_HEAD, _RULE_TAIL = 1200, 600
"""Characters of a long text the rules scan: the instruction sits at the start or the end of a long prompt
(a question before pasted material, or "...extract the names as JSON" after it); the middle is material."""


@dataclass(frozen=True, slots=True)
class Classification:
    """``task`` is ``None`` when no tier was confident; ``confidence`` is the deciding tier's score."""

    task: str | None
    tier: Tier
    confidence: float


def request_text(request: ChatRequest) -> str:
    """The text of the last user message, parts joined by newlines.

    That turn is what the model is asked to do now. The system prompt is usually the same boilerplate across
    a deployment's requests, and earlier turns describe a conversation that may have moved on; both would pull
    every request towards the same centroid.
    """
    for message in reversed(request.messages):
        if message.role == "user":
            return "\n".join(part.text for part in message.content if isinstance(part, TextPart))
    return ""


def bundled_examples() -> dict[str, list[str]]:
    """The example utterances shipped in ``switchyard/data/task_examples.yaml``."""
    text = resources.files("switchyard").joinpath("data/task_examples.yaml").read_text(encoding="utf-8")
    loaded = yaml.safe_load(text)
    if not isinstance(loaded, dict):
        raise ConfigError("task_examples.yaml must map task ids to lists of example texts")
    return _validated(loaded)


def _validated(examples: Mapping[Any, object]) -> dict[str, list[str]]:
    if not examples:
        raise ConfigError("at least one task with examples is required", key="examples")
    out: dict[str, list[str]] = {}
    for task, texts in examples.items():
        if not isinstance(task, str) or not task:
            raise ConfigError(f"task ids must be non-empty strings, got {task!r}", key="examples")
        if (
            isinstance(texts, str)
            or not isinstance(texts, Sequence)
            or not texts
            or not all(isinstance(t, str) and t.strip() for t in texts)
        ):
            raise ConfigError("must be a non-empty list of non-empty strings", key=f"examples.{task}")
        out[task] = [t.strip() for t in texts]
    return out


class TaskClassifier:
    """Classifies a request's task with the rules tier, then the embedding tier.

    ``examples`` maps task ids to example utterances (default: the bundled ones); any task ids may be used, and
    the rules answer only for the built-in ids among them. Centroids are computed here, once. ``encoder``
    defaults to the process-wide ``get_encoder()``. Thread-safe: ``classify`` keeps no state between calls.
    """

    def __init__(
        self,
        examples: Mapping[str, Sequence[str]] | None = None,
        encoder: Encoder | None = None,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        tail_tokens: int = DEFAULT_TAIL_TOKENS,
        layers: int | None = DEFAULT_LAYERS,
        rules: bool = True,
    ) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ConfigError(f"must be between 0 and 1, got {min_confidence}", key="min_confidence")
        chosen = bundled_examples() if examples is None else _validated(examples)
        self.encoder = encoder if encoder is not None else get_encoder()
        self.min_confidence = min_confidence
        self.max_tokens = min(max_tokens, self.encoder.max_tokens)
        self.tail_tokens = tail_tokens
        self.layers = layers
        self.tasks: tuple[str, ...] = tuple(chosen)
        self._task_set = frozenset(self.tasks)
        self._rules = rules
        self._centroids = self._make_centroids(chosen)

    def _make_centroids(self, examples: Mapping[str, Sequence[str]]) -> NDArray[np.float32]:
        # The examples are read as the requests will be: to the same token limit.
        rows = []
        for task in self.tasks:
            mean = self._encode_many(examples[task]).mean(axis=0)
            rows.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
        return np.stack(rows).astype(np.float32)

    def _encode_many(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self.encoder.encode(
            texts, max_tokens=self.max_tokens, tail_tokens=self.tail_tokens, layers=self.layers
        )

    def _encode(self, text: str) -> NDArray[np.float32]:
        # Tokenising costs time in proportion to the text, so cut it first to what the token limits can use.
        head, tail = (self.max_tokens - self.tail_tokens) * _CHARS_PER_TOKEN, self.tail_tokens * _CHARS_PER_TOKEN
        if len(text) > head + tail:
            text = f"{text[:head]} {text[len(text) - tail:]}" if tail else text[:head]
        return self.encoder.encode_one(
            text, max_tokens=self.max_tokens, tail_tokens=self.tail_tokens, layers=self.layers
        )

    def classify(self, request: ChatRequest) -> Classification:
        """Classify the last user message of ``request``."""
        return self.classify_text(request_text(request))

    def classify_text(self, text: str) -> Classification:
        """Rules first; if they are not decisive, the nearest centroid if its margin is ``min_confidence``."""
        if not text.strip():
            return Classification(None, "none", 0.0)
        if self._rules:
            by_rules = self.by_rules(text)
            if by_rules.task is not None:
                return by_rules
        nearest = self.by_embedding(text)
        if nearest.confidence < self.min_confidence:
            return Classification(None, "none", nearest.confidence)
        return nearest

    def by_rules(self, text: str) -> Classification:
        """The rules tier alone: a task with tier ``"rules"``, or ``task=None`` when the rules are not sure."""
        if len(text) > _RULE_HEAD + _RULE_TAIL:
            text = f"{text[:_RULE_HEAD]}\n{text[-_RULE_TAIL:]}"
        hit = match_rules(text, self._task_set)
        return Classification(None, "none", 0.0) if hit is None else Classification(hit.task, "rules", hit.confidence)

    def by_embedding(self, text: str) -> Classification:
        """The embedding tier alone, without the ``min_confidence`` cut: the nearest centroid and its margin."""
        vector = self._encode(text)
        similarity = self._centroids @ vector
        if len(self.tasks) == 1:
            return Classification(self.tasks[0], "embedding", 1.0)
        second, best = np.argpartition(similarity, -2)[-2:]
        margin = float(similarity[best] - similarity[second])
        return Classification(self.tasks[int(best)], "embedding", margin)
