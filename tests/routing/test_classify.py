"""The task classifier: rules first, then the nearest example centroid, on data it was not built from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from switchyard.errors import ConfigError
from switchyard.routing.classify import TASKS, Classification, TaskClassifier, bundled_examples, request_text
from switchyard.types import ChatRequest, ImagePart, Message, TextPart

HELDOUT = Path(__file__).with_name("task_heldout.yaml")
MT_BENCH = Path(__file__).resolve().parents[3] / "shared" / "data" / "routing" / "mt_bench" / "question.jsonl"
MT_BENCH_TASK = {
    "writing": "creative_writing", "roleplay": "creative_writing", "reasoning": "reasoning", "math": "math",
    "coding": "coding", "extraction": "extraction", "stem": "reasoning", "humanities": "reasoning",
}


@pytest.fixture(scope="module")
def clf() -> TaskClassifier:
    return TaskClassifier()


@pytest.fixture(scope="module")
def heldout() -> dict[str, list[str]]:
    loaded: dict[str, list[str]] = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize(("text", "task"), [
    ("```python\nprint(undefined_name)\n```\nWhy does this fail?", "coding"),
    ("Traceback (most recent call last):\n  File \"app.py\", line 3\nKeyError: 'user'", "coding"),
    ("Write a Rust function that parses a semver string.", "coding"),
    ("What is 17 * 23?", "math"),
    ("Solve 2x + 3 = 11 for x.", "math"),
    ("Tom has 5 apples and buys 7 more. Then he gives away 3. How many apples does he have now?", "math"),
    ("Write a haiku about rain on a tin roof.", "creative_writing"),
    ("Pretend you are a pirate and tell me about your ship.", "creative_writing"),
    ("Extract the names and phone numbers from this message: call Ann on 555-0101.", "extraction"),
    ("hi!", "chat"),
    ("thanks so much", "chat"),
    ("Who wrote War and Peace?", "quick_lookup"),
    ("What is the capital of Peru?", "quick_lookup"),
])
def test_rules_decide_the_obvious_cases(clf: TaskClassifier, text: str, task: str) -> None:
    result = clf.classify_text(text)
    assert (result.task, result.tier) == (task, "rules")
    assert result.confidence >= 0.8


def test_rules_defer_when_signals_disagree(clf: TaskClassifier) -> None:
    text = "Write a poem about this traceback: Traceback (most recent call last): KeyError: 'x'"
    assert clf.by_rules(text) == Classification(None, "none", 0.0)
    assert clf.classify_text(text).tier in {"embedding", "none"}


def test_embedding_tier_on_held_out_prompts(clf: TaskClassifier, heldout: dict[str, list[str]]) -> None:
    labelled = [(text, task) for task, texts in heldout.items() for text in texts]
    right = sum(clf.by_embedding(text).task == task for text, task in labelled)
    assert right / len(labelled) >= 0.85
    for task in ("chat", "quick_lookup"):
        texts = heldout[task]
        assert sum(clf.by_embedding(t).task == task for t in texts) / len(texts) >= 0.8, task


def test_both_tiers_on_held_out_prompts(clf: TaskClassifier, heldout: dict[str, list[str]]) -> None:
    results = [(clf.classify_text(text), task) for task, texts in heldout.items() for text in texts]
    answered = [(c, task) for c, task in results if c.task is not None]
    assert {c.tier for c, _ in answered} == {"rules", "embedding"}
    assert len(answered) / len(results) >= 0.8
    assert sum(c.task == task for c, task in answered) / len(answered) >= 0.9


def test_held_out_prompts_are_not_bundled_examples(heldout: dict[str, list[str]]) -> None:
    bundled = {text.lower() for texts in bundled_examples().values() for text in texts}
    assert not bundled & {text.lower() for texts in heldout.values() for text in texts}


def test_bundled_examples_cover_every_task_with_variety() -> None:
    examples = bundled_examples()
    assert tuple(examples) == TASKS
    for task, texts in examples.items():
        assert len(set(texts)) >= 20, task


@pytest.mark.skipif(not MT_BENCH.is_file(), reason=f"MT-Bench questions not found at {MT_BENCH}")
def test_mt_bench_accuracy(clf: TaskClassifier) -> None:
    rows = [json.loads(line) for line in MT_BENCH.read_text(encoding="utf-8").splitlines() if line.strip()]
    results = [(clf.classify_text(row["turns"][0]), MT_BENCH_TASK[row["category"]]) for row in rows]
    answered = [(c, task) for c, task in results if c.task is not None]
    assert len(answered) / len(results) >= 0.6
    assert sum(c.task == task for c, task in answered) / len(answered) >= 0.8


def test_low_confidence_gives_no_answer(clf: TaskClassifier) -> None:
    text = "Tell me about the ocean."
    assert clf.by_rules(text).task is None
    nearest = clf.by_embedding(text)
    assert nearest.task is not None
    strict = TaskClassifier(encoder=clf.encoder, min_confidence=min(1.0, nearest.confidence + 0.01))
    assert strict.classify_text(text) == Classification(None, "none", nearest.confidence)


def test_two_identical_tasks_are_never_confident(clf: TaskClassifier) -> None:
    twins = TaskClassifier({"a": ["sort a list"], "b": ["sort a list"]}, encoder=clf.encoder, min_confidence=1e-4)
    result = twins.classify_text("how do I sort numbers")
    assert result.task is None
    assert result.confidence == pytest.approx(0.0, abs=1e-6)


def test_empty_text_is_not_classified(clf: TaskClassifier) -> None:
    assert clf.classify_text("  \n") == Classification(None, "none", 0.0)


def test_request_uses_the_last_user_turn_only(clf: TaskClassifier) -> None:
    request = ChatRequest(model="r", messages=[
        Message.system("You are a coding assistant. ```python\nimport os\n```"),
        Message.user("Write a Python function that reverses a string."),
        Message.assistant("def rev(s): return s[::-1]"),
        Message.user("thanks!"),
    ])
    assert clf.classify(request) == clf.classify_text("thanks!")
    assert clf.classify(request).task == "chat"


def test_request_text_skips_images_and_joins_text_parts() -> None:
    request = ChatRequest(model="r", messages=[Message(role="user", content=[
        TextPart("What is the capital of Peru?"), ImagePart("data:image/png;base64,AAAA"), TextPart("Briefly."),
    ])])
    assert request_text(request) == "What is the capital of Peru?\nBriefly."


def test_request_without_a_user_turn(clf: TaskClassifier) -> None:
    request = ChatRequest(model="r", messages=[Message.system("be brief")])
    assert clf.classify(request) == Classification(None, "none", 0.0)


def test_custom_examples_define_the_tasks(clf: TaskClassifier) -> None:
    custom = TaskClassifier({
        "billing": ["I was charged twice this month", "How do I update my credit card?", "refund my payment"],
        "shipping": ["Where is my parcel?", "My delivery is late", "Can I change the shipping address?"],
    }, encoder=clf.encoder, min_confidence=0.0)
    assert custom.tasks == ("billing", "shipping")
    assert custom.classify_text("the courier never delivered my package").task == "shipping"
    assert custom.classify_text("why is there an extra fee on my invoice").task == "billing"
    # The rules only know the built-in tasks: a code fence cannot produce "coding" here.
    fenced = custom.classify_text("```\nprint(1)\n```")
    assert fenced.tier == "embedding"
    assert fenced.task in custom.tasks


@pytest.mark.parametrize("examples", [
    {},
    {"coding": []},
    {"coding": "write code"},
    {"coding": ["fine", ""]},
    {"coding": ["fine", 3]},
])
def test_bad_examples_are_a_config_error(clf: TaskClassifier, examples: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="examples"):
        TaskClassifier(examples, encoder=clf.encoder)  # type: ignore[arg-type]


def test_min_confidence_must_be_a_margin(clf: TaskClassifier) -> None:
    with pytest.raises(ConfigError, match="min_confidence"):
        TaskClassifier(encoder=clf.encoder, min_confidence=1.5)
