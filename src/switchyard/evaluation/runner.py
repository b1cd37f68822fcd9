"""Running an eval set through the gateway against several targets, and summarising each target.

Every (item, target) pair is one ``gateway.chat`` call through the full pipeline (routing, fallback, budgets,
ledger), so a route is evaluated as clients would see it. Quality and availability are kept apart: a target's
``quality`` is the mean score of the answers it gave (so a flaky but accurate model is not called inaccurate),
and ``success_rate`` says how often it gave one.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from ..errors import ConfigError, SwitchyardError
from ..types import ChatRequest
from .items import EvalItem
from .judge import judge_answer
from .scoring import score_answer

if TYPE_CHECKING:
    # Only for annotations: importing the gateway here would make `switchyard.evaluation` (which the router
    # reads quality scores through) import the router back.
    from ..gateway import Gateway

__all__ = ["EvalReport", "ItemResult", "TargetSummary", "run_eval"]


@dataclass(slots=True)
class ItemResult:
    """One item asked of one target."""

    target: str
    item_id: str
    tags: tuple[str, ...]
    ok: bool
    latency_ms: float
    answer: str | None = None
    score: float | None = None
    """0-1; ``None`` when the request failed or the judge could not grade the answer."""
    deployment: str | None = None
    """The deployment that answered (differs from ``target`` for routes and fallbacks)."""
    cost_usd: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    error: str | None = None
    judged: Literal["graded", "ungraded", "failed"] | None = None
    """For judge items: the judge gave a grade, answered without one, or its call failed."""
    judge_error: str | None = None
    judge_cost_usd: float | None = None


@dataclass(slots=True)
class TargetSummary:
    target: str
    n: int
    succeeded: int
    scored: int
    quality: float | None
    """Mean item score (0-1) over the answers that were scored; ``None`` if none was."""
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    cost_usd: float | None
    """Total for the answers; ``None`` (unknown, never $0) if any answer's price is unknown."""
    input_tokens: int
    output_tokens: int
    judge_failures: int = 0
    judge_cost_usd: float | None = None
    answered_by: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    """Failed requests by error class."""

    @property
    def success_rate(self) -> float:
        return self.succeeded / self.n if self.n else 0.0

    @property
    def cost_per_item_usd(self) -> float | None:
        return self.cost_usd / self.succeeded if self.cost_usd is not None and self.succeeded else None


@dataclass(slots=True)
class EvalReport:
    eval_set: str
    judge: str | None
    generated_at: str
    duration_s: float
    targets: list[TargetSummary]
    items: list[ItemResult]

    def summary(self, target: str) -> TargetSummary:
        return next(s for s in self.targets if s.target == target)


async def run_eval(
    gateway: Gateway,
    targets: Sequence[str],
    items: Sequence[EvalItem],
    *,
    concurrency: int = 8,
    judge: str | None = None,
    eval_set: str = "",
    max_tokens: int | None = None,
    temperature: float | None = None,
    on_result: Callable[[ItemResult], None] | None = None,
) -> EvalReport:
    """Ask every item of every target (models or routes of ``gateway``), at most ``concurrency`` at a time, judge
    calls included. ``judge`` names the model or route that grades ``judge`` items; they need one.

    Raises :class:`~switchyard.errors.ConfigError` before sending anything when a target or the judge is unknown
    or judge items have no judge; request failures are counted per target, never raised."""
    targets = list(dict.fromkeys(targets))
    _check(gateway, targets, items, judge, concurrency)
    started, began = time.perf_counter(), datetime.now(UTC)
    pairs: Iterator[tuple[EvalItem, str]] = ((item, target) for item in items for target in targets)
    results: list[ItemResult] = []

    async def worker() -> None:
        for item, target in pairs:
            result = await _ask(gateway, target, item, judge, max_tokens, temperature)
            results.append(result)
            if on_result is not None:
                on_result(result)

    # Items go out one after another to every target, so a slow or failing provider shows up early.
    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(items) * len(targets)))))
    order = {(item.id, target): i for i, (item, target) in enumerate((i, t) for i in items for t in targets)}
    results.sort(key=lambda r: order[(r.item_id, r.target)])
    return EvalReport(
        eval_set=eval_set,
        judge=judge,
        generated_at=began.isoformat(timespec="seconds"),
        duration_s=time.perf_counter() - started,
        targets=[_summarise(target, [r for r in results if r.target == target]) for target in targets],
        items=results,
    )


def _check(gateway: Gateway, targets: Sequence[str], items: Sequence[EvalItem], judge: str | None, n: int) -> None:
    if n < 1:
        raise ConfigError("must be at least 1", key="concurrency")
    if not targets:
        raise ConfigError("name at least one model or route to evaluate", key="targets")
    known = ", ".join(gateway.model_names)
    for name in targets:
        if name not in gateway.model_names:
            raise ConfigError(f"unknown model or route {name!r} (known: {known})", key="targets")
    if judge is not None and judge not in gateway.model_names:
        raise ConfigError(f"unknown model or route {judge!r} (known: {known})", key="judge")
    if judge is None:
        judged = next((item for item in items if item.match == "judge"), None)
        if judged is not None:
            raise ConfigError(f"item {judged.id!r} is scored by a judge model; pass one (--judge)", key="judge")


async def _ask(
    gateway: Gateway, target: str, item: EvalItem, judge: str | None, max_tokens: int | None, temp: float | None
) -> ItemResult:
    request = ChatRequest(model=target, messages=list(item.messages), max_tokens=max_tokens, temperature=temp)
    began = time.perf_counter()
    try:
        response = await gateway.chat(request)
    except SwitchyardError as exc:
        elapsed = (time.perf_counter() - began) * 1000
        return ItemResult(target, item.id, item.tags, False, elapsed, error=f"{type(exc).__name__}: {exc}")
    result = ItemResult(target, item.id, item.tags, True, (time.perf_counter() - began) * 1000, response.text)
    if response.meta is not None:
        result.deployment, result.cost_usd = response.meta.deployment, response.meta.cost_usd
    if response.usage is not None:
        result.input_tokens, result.output_tokens = response.usage.input_tokens, response.usage.output_tokens
    if item.match != "judge":
        result.score = score_answer(item, response.text)
    elif judge is not None:
        verdict = await judge_answer(gateway, judge, item, response.text)
        result.score, result.judge_error, result.judge_cost_usd = verdict.score, verdict.error, verdict.cost_usd
        result.judged = "graded" if verdict.score is not None else "ungraded" if verdict.answered else "failed"
    return result


def _summarise(target: str, results: list[ItemResult]) -> TargetSummary:
    answered = [r for r in results if r.ok]
    scores = [r.score for r in answered if r.score is not None]
    latencies = sorted(r.latency_ms for r in answered)
    # A failed judge call returned nothing to price; the others are billed whether or not they held a grade.
    judge_costs = [r.judge_cost_usd for r in answered if r.judged in ("graded", "ungraded")]
    return TargetSummary(
        target=target,
        n=len(results),
        succeeded=len(answered),
        scored=len(scores),
        quality=sum(scores) / len(scores) if scores else None,
        latency_p50_ms=_percentile(latencies, 0.50),
        latency_p95_ms=_percentile(latencies, 0.95),
        cost_usd=_total([r.cost_usd for r in answered]),
        input_tokens=sum(r.input_tokens for r in answered),
        output_tokens=sum(r.output_tokens for r in answered),
        judge_failures=sum(r.judged in ("ungraded", "failed") for r in answered),
        judge_cost_usd=_total(judge_costs),
        answered_by=dict(Counter(r.deployment for r in answered if r.deployment is not None)),
        errors=dict(Counter((r.error or "").split(":", 1)[0] for r in results if not r.ok)),
    )


def _total(costs: list[float | None]) -> float | None:
    """The sum, or ``None`` when there is nothing to sum or any part is unknown (a partial sum would read as the
    full cost)."""
    if not costs or any(c is None for c in costs):
        return None
    return sum(c for c in costs if c is not None)


def _percentile(ordered: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), on already sorted values."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
