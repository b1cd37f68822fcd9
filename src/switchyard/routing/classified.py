"""Strategies that read the prompt: ``classify`` (task class → the route's models for that task) and
``strong_weak`` (a learned score of how much the prompt needs the strong model).

Where the work runs is the point of this module. The classifier's rules tier costs tens of microseconds and runs
inline; its embedding tier costs milliseconds of CPU, so it runs on :class:`Offload`'s small shared thread pool
while the event loop serves other requests (``bench/routing.py --classify`` measures the pool against
``asyncio.to_thread`` and inline: a dedicated pool of 1-2 threads stalls the loop least). The learned router
scores a short prompt faster than a hop to the pool costs, so only long prompts go there.

Models are built in that pool too: building the classifier embeds every example (seconds), so until a model is
ready its route serves the safe list (``default``; ``strong`` for strong_weak) with tier ``loading`` rather than
stall a request. Any failure does the same with tier ``error``: a broken classifier costs quality or money, never
availability.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Generic, NamedTuple, Protocol, TypeVar

from ..types import ChatRequest, TextPart

if TYPE_CHECKING:
    from ..config import RouteConfig

__all__ = [
    "INLINE_SCORE_CHARS",
    "Classifier",
    "Offload",
    "Scorer",
    "StrongWeakChooser",
    "TaskChooser",
    "Verdict",
    "default_classifier",
    "default_scorer",
    "last_user_text",
    "shared_scorer",
]

logger = logging.getLogger("switchyard.routing")

INLINE_SCORE_CHARS = 1500
"""Prompts up to this long are scored by the learned router inline: ~30 us of CPU for a short prompt, ~150 us at
this length, against ~40 us of event-loop CPU and ~160 us of latency for a hop to the thread pool (measured on
the 2-core development VM). Longer ones (up to ~850 us at the router's 8,000-character cut) go to the pool."""

T = TypeVar("T")
M = TypeVar("M")


class _Classification(Protocol):
    @property
    def task(self) -> str | None: ...
    @property
    def tier(self) -> str: ...
    @property
    def confidence(self) -> float: ...


class Classifier(Protocol):
    """What ``classify`` routes need of :class:`switchyard.routing.classify.TaskClassifier`."""

    def classify(self, request: ChatRequest) -> _Classification: ...
    def by_rules(self, text: str) -> _Classification: ...


class Scorer(Protocol):
    """What ``strong_weak`` routes need of :class:`switchyard.routing.strongweak.StrongWeakRouter`."""

    def score(self, text: str) -> float: ...


class Verdict(NamedTuple):
    """What a prompt-reading strategy decided: which list to use, and why."""

    use: str
    """``task`` (the task's list), ``default``, ``strong`` or ``weak``."""
    task: str | None
    tier: str
    """``rules``, ``embedding``, ``none`` (no confident answer), ``strong``/``weak``, ``loading``, ``error``."""
    confidence: float | None


class Offload:
    """A small thread pool shared by every classifier of one router (``routing.classifier_threads``)."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="switchyard-classify")
        return self._pool

    async def run(self, fn: Callable[[ChatRequest], T], request: ChatRequest) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor(), fn, request)

    def submit(self, fn: Callable[[], None]) -> Future[None]:
        return self._executor().submit(fn)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def last_user_text(request: ChatRequest) -> str:
    """The last user turn's text (what the model is asked to do now), parts joined by newlines."""
    for message in reversed(request.messages):
        if message.role == "user":
            return "\n".join(p.text for p in message.content if isinstance(p, TextPart))
    return ""


class _Model(Generic[M]):
    """A model built once, in the pool; ``None`` until it is ready (or when building failed)."""

    def __init__(self, build: Callable[[], M], what: str) -> None:
        self._build = build
        self.what = what
        self.value: M | None = None
        self.failed = False
        self._future: Future[None] | None = None
        self._lock = threading.Lock()

    def _run(self) -> None:
        with self._lock:
            if self.value is not None or self.failed:
                return
            try:
                self.value = self._build()
            except Exception:
                self.failed = True
                logger.exception("%s could not be loaded; its route serves its fallback list", self.what)

    def get(self, offload: Offload) -> M | None:
        """The model, or ``None`` while it builds in the background (the first call starts the build)."""
        if self.value is None and not self.failed and self._future is None:
            self._future = offload.submit(self._run)
        return self.value

    def now(self) -> M | None:
        """The model, built in this thread if need be (blocks: not for the event loop)."""
        self._run()
        return self.value

    async def ready(self, offload: Offload) -> None:
        self.get(offload)
        if self._future is not None:
            await asyncio.wrap_future(self._future)


def _not_ready(model: _Model[M], use: str) -> Verdict:
    return Verdict(use, None, "error" if model.failed else "loading", None)


_classifiers: dict[tuple[object, ...], Classifier] = {}
_classifiers_lock = threading.Lock()


def default_classifier(route: RouteConfig) -> Classifier:
    """A :class:`TaskClassifier` with the bundled examples plus the route's own. Routes with the same examples
    and threshold share one: building one embeds every example."""
    from .classify import TaskClassifier, bundled_examples

    examples: Mapping[str, Sequence[str]] | None = None
    if route.examples:
        merged = bundled_examples()
        for task, texts in route.examples.items():
            merged[task] = [*merged.get(task, []), *texts]
        examples = merged
    key = (tuple((t, tuple(x)) for t, x in sorted(route.examples.items())), route.min_confidence)
    with _classifiers_lock:
        classifier = _classifiers.get(key)
        if classifier is None:
            if route.min_confidence is None:
                classifier = TaskClassifier(examples)
            else:
                classifier = TaskClassifier(examples, min_confidence=route.min_confidence)
            _classifiers[key] = classifier
    return classifier


def default_scorer() -> Scorer:
    from .strongweak import StrongWeakRouter

    scorer: Scorer = StrongWeakRouter.load()
    return scorer


class TaskChooser:
    """``classify``: which of the route's task lists a request gets."""

    def __init__(self, route: str, config: RouteConfig, factory: Callable[[RouteConfig], Classifier]) -> None:
        self.route = route
        self.tasks = frozenset(config.tasks)
        self.min_confidence = config.min_confidence
        self.model: _Model[Classifier] = _Model(lambda: factory(config), f"route {route}: the task classifier")

    def _verdict(self, found: _Classification) -> Verdict:
        task, confidence = found.task, found.confidence
        if task is None or task not in self.tasks:
            return Verdict("default", task, found.tier, confidence)
        if self.min_confidence is not None and confidence < self.min_confidence:
            return Verdict("default", task, found.tier, confidence)
        return Verdict("task", task, found.tier, confidence)

    def quick(self, request: ChatRequest, offload: Offload) -> Verdict | None:
        """The verdict when it is cheap (the rules tier decided, or no model yet); ``None``: call :meth:`full`
        off the event loop."""
        classifier = self.model.get(offload)
        if classifier is None:
            return _not_ready(self.model, "default")
        text = last_user_text(request)
        if not text.strip():
            return Verdict("default", None, "none", 0.0)
        try:
            found = classifier.by_rules(text)
        except Exception:
            logger.exception("route %s: task rules failed; serving the default list", self.route)
            return Verdict("default", None, "error", None)
        return self._verdict(found) if found.task is not None else None

    def full(self, request: ChatRequest) -> Verdict:
        """Both tiers; blocking (milliseconds of CPU), so it runs in the pool."""
        classifier = self.model.now()
        if classifier is None:
            return _not_ready(self.model, "default")
        try:
            return self._verdict(classifier.classify(request))
        except Exception:
            logger.exception("route %s: task classifier failed; serving the default list", self.route)
            return Verdict("default", None, "error", None)


class StrongWeakChooser:
    """``strong_weak``: the strong list when the learned router's score reaches the route's threshold."""

    def __init__(self, route: str, threshold: float, model: _Model[Scorer]) -> None:
        self.route = route
        self.threshold = threshold
        self.model = model

    def quick(self, request: ChatRequest, offload: Offload) -> Verdict | None:
        scorer = self.model.get(offload)
        if scorer is None:
            return _not_ready(self.model, "strong")
        text = last_user_text(request)
        return self._verdict(scorer, text) if len(text) <= INLINE_SCORE_CHARS else None

    def full(self, request: ChatRequest) -> Verdict:
        scorer = self.model.now()
        if scorer is None:
            return _not_ready(self.model, "strong")
        return self._verdict(scorer, last_user_text(request))

    def _verdict(self, scorer: Scorer, text: str) -> Verdict:
        try:
            score = float(scorer.score(text))
        except Exception:
            logger.exception("route %s: strong/weak router failed; serving the strong list", self.route)
            return Verdict("strong", None, "error", None)
        use = "strong" if score >= self.threshold else "weak"
        return Verdict(use, None, use, score)


def shared_scorer(factory: Callable[[], Scorer]) -> _Model[Scorer]:
    """One learned router for every strong_weak route of a router: it is the same model."""
    return _Model(factory, "the strong/weak router")
