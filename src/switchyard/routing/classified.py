"""Strategies that read the prompt: ``classify`` (task class → the route's models for that task) and
``strong_weak`` (a learned score of how much the prompt needs the strong model).

Both cost CPU (the classifier's embedding tier, the learned router's model: milliseconds), so the router runs
them on :class:`Offload`'s small shared thread pool and the event loop keeps serving other requests meanwhile.
Models load on first use, in that pool, so building a gateway stays fast and nothing is loaded for routes that
never see traffic. Any failure of a classifier falls back to the route's default list (``classify``) or the
strong list (``strong_weak``): a broken classifier costs quality or money, never availability.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeVar

from ..types import ChatRequest

if TYPE_CHECKING:
    from ..config import RouteConfig

__all__ = ["Classifier", "Offload", "Scorer", "StrongWeakChooser", "TaskChooser", "Verdict", "last_user_text"]

logger = logging.getLogger("switchyard.routing")

T = TypeVar("T")


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


class Scorer(Protocol):
    """What ``strong_weak`` routes need of :class:`switchyard.routing.strongweak.StrongWeakRouter`."""

    def score(self, text: str) -> float: ...


class Verdict(NamedTuple):
    """What a prompt-reading strategy decided: the list to use and why."""

    use: str
    """``task`` (the task's list), ``default``, ``strong`` or ``weak``."""
    task: str | None
    tier: str
    confidence: float | None


class Offload:
    """A small thread pool shared by every classifier of one router (``routing.classifier_threads``)."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[[ChatRequest], T], request: ChatRequest) -> T:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="switchyard-classify")
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, request)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def last_user_text(request: ChatRequest) -> str:
    for message in reversed(request.messages):
        if message.role == "user":
            return message.text
    return ""


class _Lazy:
    """Builds a model once, on first use, from whichever thread gets there first."""

    def __init__(self, build: Callable[[], object]) -> None:
        self._build = build
        self._value: object | None = None
        self._lock = threading.Lock()

    def get(self) -> object:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
        return self._value


def default_classifier(route: RouteConfig) -> Classifier:
    from .classify import TaskClassifier

    kwargs = {"min_confidence": route.min_confidence} if route.min_confidence is not None else {}
    return TaskClassifier(examples=route.examples or None, **kwargs)


_shared_scorer: _Lazy | None = None


def default_scorer() -> Scorer:
    # One learned router for every strong_weak route of the process: it is the same model.
    global _shared_scorer
    if _shared_scorer is None:
        from .strongweak import StrongWeakRouter

        _shared_scorer = _Lazy(StrongWeakRouter.load)
    scorer: Scorer = _shared_scorer.get()  # type: ignore[assignment]
    return scorer


class TaskChooser:
    """``classify``: which of the route's task lists a request gets."""

    def __init__(self, route: str, config: RouteConfig, factory: Callable[[RouteConfig], Classifier]) -> None:
        self.route = route
        self.tasks = frozenset(config.tasks)
        self.min_confidence = config.min_confidence
        self._classifier = _Lazy(lambda: factory(config))

    def __call__(self, request: ChatRequest) -> Verdict:
        try:
            classifier: Classifier = self._classifier.get()  # type: ignore[assignment]
            found = classifier.classify(request)
        except Exception:
            # Any failure of the classifier (missing model files, a bug) must not fail the request.
            logger.exception("route %s: task classifier failed; serving the default list", self.route)
            return Verdict("default", None, "error", None)
        task, confidence = found.task, found.confidence
        if task is None or task not in self.tasks:
            return Verdict("default", task, found.tier, confidence)
        if self.min_confidence is not None and confidence < self.min_confidence:
            return Verdict("default", task, found.tier, confidence)
        return Verdict("task", task, found.tier, confidence)


class StrongWeakChooser:
    """``strong_weak``: the strong list when the learned router's score reaches the route's threshold."""

    def __init__(self, route: str, threshold: float, factory: Callable[[], Scorer]) -> None:
        self.route = route
        self.threshold = threshold
        self._factory = factory

    def __call__(self, request: ChatRequest) -> Verdict:
        try:
            score = float(self._factory().score(last_user_text(request)))
        except Exception:
            logger.exception("route %s: strong/weak router failed; serving the strong list", self.route)
            return Verdict("strong", None, "error", None)
        use = "strong" if score >= self.threshold else "weak"
        return Verdict(use, None, use, score)
