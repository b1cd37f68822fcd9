"""Running a plan: walk its candidates, retrying and falling back as each error's class allows.

Per error class (see ``policy.classify``): a timeout is retried once, 5xx-like failures with exponential backoff
and jitter, a 429 only after every other candidate was tried and its ``Retry-After`` (capped) has passed; bad
credentials open the deployment's breaker at once; a bad request ends the walk, except context-length, which
moves on to models with a larger window; a content refusal ends it unless the route allows fallback. Deployments
whose breaker is open are skipped without a call, and a per-request deadline bounds the whole walk.

Streams are walked to their first chunk; after that the client has seen output, and :class:`ChatStream` either
ends with the error or, when the route opts in, continues on the next candidate with the partial answer as an
assistant prefix. Hedging (opt-in) races the next candidate against a slow first one.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec

from ..embedding_types import EmbeddingRequest, EmbeddingResponse
from ..errors import (
    AllAttemptsFailedError,
    RateLimitedError,
    SwitchyardError,
    UnsupportedFeatureError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from ..providers.base import Deployment
from ..routing.plan import Plan
from ..types import Attempt, ChatRequest, ChatResponse, Message, ResponseMeta
from .breaker import Breaker
from .health import HealthMonitor
from .policy import backoff, classify
from .stream import ChatStream, Opened

__all__ = ["AttemptHook", "ChatStream", "Executor"]

logger = logging.getLogger("switchyard.resilience")

T = TypeVar("T")

AttemptHook = Callable[[Deployment], Callable[[object, BaseException | None], None]]
"""Called as an upstream attempt starts; what it returns is called once when the attempt ends, with the result
(a ``ChatResponse``, or the opened stream) or the error. Telemetry opens and closes a span per attempt here."""


class Executor:
    def __init__(
        self,
        breaker: Breaker,
        health: HealthMonitor,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_attempt: AttemptHook | None = None,
    ) -> None:
        self.breaker = breaker
        self.health = health
        self.rng = rng or random.Random()
        self.clock = clock
        self.on_attempt = on_attempt

    async def chat(self, plan: Plan, request: ChatRequest) -> ChatResponse:
        walk = _Walk(self, plan, _chat_check(request))

        async def call(deployment: Deployment) -> ChatResponse:
            return await deployment.chat(request)

        response, deployment = await walk.run(call)
        response.meta = walk.meta(deployment)
        return response

    async def embed(self, plan: Plan, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embeddings, walked over the plan like a chat request: retries, fallback, breakers, hedging."""
        walk = _Walk(self, plan, lambda d: d.adapter.check_embeddings(request, d))

        async def call(deployment: Deployment) -> EmbeddingResponse:
            return await deployment.embed(request)

        response, deployment = await walk.run(call)
        response.meta = walk.meta(deployment)
        return response

    async def stream(self, plan: Plan, request: ChatRequest) -> ChatStream:
        walk = _Walk(self, plan, _chat_check(request))
        opened, deployment = await walk.run(lambda d: self.open_stream(d, request), stream=True)
        resume = None
        if plan.policy.stream_continue:
            resume = self._resumer(plan, request)
        return ChatStream(opened, walk.meta(deployment), self, resume)

    async def open_stream(self, deployment: Deployment, request: ChatRequest) -> Opened:
        """Open a stream and wait for its first chunk, within the deployment's first-token timeout."""
        started = time.perf_counter()
        chunks = deployment.stream(request)
        limit = deployment.timeout.first_token or deployment.timeout.read
        try:
            async with asyncio.timeout(limit):
                first = await chunks.__anext__()
        except TimeoutError:
            await chunks.aclose()
            raise UpstreamTimeoutError(
                f"no first token within {limit:g}s", provider=deployment.provider, deployment=deployment.name
            ) from None
        except StopAsyncIteration:
            raise UpstreamUnavailableError(
                "upstream stream ended without any output", provider=deployment.provider, deployment=deployment.name
            ) from None
        except BaseException:
            await chunks.aclose()
            raise
        self.health.first_token(deployment.name, (time.perf_counter() - started) * 1000)
        return Opened(deployment, first, chunks, started)

    def _resumer(self, plan: Plan, request: ChatRequest) -> Callable[[Deployment, str], Awaitable[Opened]]:
        async def resume(failed: Deployment, partial: str) -> Opened:
            # The rest of the plan, after the deployment that broke, answers the same question with the partial
            # answer as an assistant prefix: it continues the text instead of starting over.
            rest = plan.candidates[plan.candidates.index(failed) + 1 :] if failed in plan.candidates else ()
            continued = Plan(plan.requested, plan.route, rest, plan.policy)
            follow_up = msgspec.structs.replace(request, messages=[*request.messages, Message.assistant(partial)])
            walk = _Walk(self, continued, _chat_check(follow_up))
            opened, _ = await walk.run(lambda d: self.open_stream(d, follow_up), stream=True)
            return opened

        return resume


def _chat_check(request: ChatRequest) -> Callable[[Deployment], None]:
    return lambda deployment: deployment.adapter.check_request(request, deployment)


class _Walk:
    """One request's walk over a plan: the queue of candidates, retries owed, and what was tried. ``check`` raises
    ``UnsupportedFeatureError`` for a deployment that cannot take the request, which is then skipped."""

    def __init__(self, executor: Executor, plan: Plan, check: Callable[[Deployment], None]) -> None:
        self.x = executor
        self.plan = plan
        self.policy = plan.policy
        self.check = check
        self.queue: deque[Deployment] = deque(plan.candidates)
        self.deferred: list[tuple[float, int, Deployment]] = []  # (ready at, order, deployment): 429s to retry
        self.retries: Counter[tuple[str, str]] = Counter()
        self.calls = 0
        self.deadline = executor.clock() + self.policy.deadline_s
        self.window_needed = 0  # after a context-length failure: only larger windows are worth a call
        self.attempts: list[Attempt] = []
        self.errors: list[UpstreamError] = []
        self.skipped: list[UnsupportedFeatureError] = []
        self.open_breakers: list[str] = []
        self.expired = False
        self.stream = False

    # -- choosing the next call -----------------------------------------------------------------------------

    async def next_candidate(self) -> Deployment | None:
        x, retry = self.x, self.policy.retry
        while self.calls < retry.max_attempts:
            if self.queue:
                deployment = self.queue.popleft()
            elif self.deferred:
                ready_at, _, deployment = heapq.heappop(self.deferred)
                if ready_at >= self.deadline:
                    continue
                wait = ready_at - x.clock()
                if wait > 0:
                    await asyncio.sleep(wait)
            else:
                return None
            if deployment.context_window is not None and deployment.context_window <= self.window_needed:
                continue
            try:
                self.check(deployment)
            except UnsupportedFeatureError as exc:
                self.skipped.append(exc)
                continue
            if await x.breaker.admit(deployment.name) == "open":
                self.open_breakers.append(deployment.name)
                continue
            return deployment
        return None

    # -- the loop -------------------------------------------------------------------------------------------

    async def run(
        self, call: Callable[[Deployment], Awaitable[T]], *, stream: bool = False
    ) -> tuple[T, Deployment]:
        self.stream = stream
        while (deployment := await self.next_candidate()) is not None:
            remaining = self.deadline - self.x.clock()
            if remaining <= 0:
                break
            hedge = self.policy.hedge
            if hedge is not None:
                outcome = await self._hedged(deployment, call, remaining, stream)
            else:
                outcome = await self._attempt(deployment, call, remaining)
            if outcome is not None:
                return outcome
            if self.expired:
                break
        raise self.give_up()

    async def _attempt(
        self, deployment: Deployment, call: Callable[[Deployment], Awaitable[T]], remaining: float
    ) -> tuple[T, Deployment] | None:
        self.calls += 1
        started = time.perf_counter()
        health = self.x.health
        health.started(deployment.name)
        ended = self.x.on_attempt(deployment) if self.x.on_attempt is not None else None
        try:
            async with asyncio.timeout(remaining):
                result = await call(deployment)
        except TimeoutError:
            self.expired = True
            exc = UpstreamTimeoutError(
                f"request deadline of {self.policy.deadline_s:g}s exceeded",
                provider=deployment.provider, deployment=deployment.name,
            )
            if ended is not None:
                ended(None, exc)
            await self.failed(deployment, exc, started)
            return None
        except UpstreamError as exc:
            if ended is not None:
                ended(None, exc)
            await self.failed(deployment, exc, started)
            return None
        except BaseException as exc:
            if ended is not None:
                ended(None, exc)
            if isinstance(exc, asyncio.CancelledError):
                await self.x.breaker.release(deployment.name)
            raise
        finally:
            health.finished(deployment.name)
        if ended is not None:
            ended(result, None)
        await self.succeeded(deployment, started)
        return result, deployment

    async def _hedged(
        self, deployment: Deployment, call: Callable[[Deployment], Awaitable[T]], remaining: float, stream: bool
    ) -> tuple[T, Deployment] | None:
        """Race the next candidate against ``deployment`` once it has been slow for the hedge delay."""
        assert self.policy.hedge is not None
        hedge = self.policy.hedge
        delay = hedge.delay_ms / 1000
        if hedge.percentile is not None:
            observed = self.x.health.get(deployment.name).percentile("ttft" if stream else "latency", hedge.percentile)
            delay = observed / 1000 if observed is not None else delay
        tasks: dict[asyncio.Task[tuple[T, Deployment] | None], Deployment] = {
            asyncio.ensure_future(self._attempt(deployment, call, remaining)): deployment
        }
        done, _ = await asyncio.wait(tasks, timeout=delay)
        if not done:
            backup = await self.next_candidate()
            if backup is not None:
                tasks[asyncio.ensure_future(self._attempt(backup, call, remaining))] = backup
        pending = set(tasks)
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    outcome = task.result()  # a terminal error (bad request) propagates; the rest are cancelled
                    if outcome is not None:
                        for loser in pending:
                            self.lost(tasks[loser])
                        return outcome
            return None
        finally:
            for task in pending:
                task.cancel()
            if pending:
                results = await asyncio.gather(*pending, return_exceptions=True)
                for result in results:
                    # A loser that answered anyway: release its stream (and the connection under it).
                    if isinstance(result, tuple) and isinstance(result[0], Opened):
                        await result[0].chunks.aclose()

    # -- outcomes -------------------------------------------------------------------------------------------

    async def succeeded(self, deployment: Deployment, started: float) -> None:
        latency = _ms(started)
        self.attempts.append(Attempt(deployment=deployment.name, provider=deployment.provider, latency_ms=latency))
        if not self.stream:
            # A stream's latency is known at its end; ChatStream reports it then.
            self.x.health.success(deployment.name, latency)
        await self.x.breaker.success(deployment.name)

    def lost(self, deployment: Deployment) -> None:
        # The loser's call was sent and may be billed: it stays in the record.
        self.attempts.append(Attempt(
            deployment=deployment.name, provider=deployment.provider,
            error="cancelled: a hedged attempt answered first",
        ))

    async def failed(self, deployment: Deployment, exc: UpstreamError, started: float) -> None:
        """Record a failed call, tell the breaker and health monitor, and decide what follows. Raises ``exc``
        when no other deployment should be tried."""
        kind = classify(exc)
        x, retry, name = self.x, self.policy.retry, deployment.name
        self.errors.append(exc)
        self.attempts.append(Attempt(
            deployment=name, provider=deployment.provider, status=exc.status_code,
            error=f"{type(exc).__name__}: {exc.message}", latency_ms=_ms(started),
        ))
        x.health.failure(name, exc.message, type(exc).__name__)
        await x.breaker.judge(name, exc)
        used = self.retries[(name, kind)]
        next_step = "fall back"
        if kind == "bad_request" or (kind == "content_filter" and not self.policy.fallback_on_content_filter):
            next_step = "stop"
        elif kind == "context_length":
            self.window_needed = max(self.window_needed, deployment.context_window or 0)
        elif kind == "rate_limit" and used < retry.rate_limit:
            hinted = exc.retry_after if isinstance(exc, RateLimitedError) else None
            wait = hinted if hinted is not None else backoff(retry, used, x.rng)
            if wait <= retry.retry_after_cap_s:
                self.retries[(name, kind)] += 1
                heapq.heappush(self.deferred, (x.clock() + wait, self.calls, deployment))
                next_step = f"try others, then retry after {wait:g}s"
        elif kind == "timeout" and used < retry.timeout:
            self.retries[(name, kind)] += 1
            heapq.heappush(self.deferred, (x.clock(), self.calls, deployment))
            next_step = "try others, then retry"
        elif kind == "server_error" and used < retry.server_error:
            delay = backoff(retry, used, x.rng)
            if x.clock() + delay < self.deadline:
                self.retries[(name, kind)] += 1
                heapq.heappush(self.deferred, (x.clock() + delay, self.calls, deployment))
                next_step = f"try others, then retry after {delay * 1000:.0f} ms"
        logger.warning(
            "attempt %d on %s (%s) failed: %s: %s; %s",
            len(self.attempts), name, deployment.provider, type(exc).__name__, exc.message, next_step,
        )
        if next_step == "stop":
            raise exc

    def meta(self, deployment: Deployment) -> ResponseMeta:
        return ResponseMeta(
            deployment=deployment.name, provider=deployment.provider, route=self.plan.route, attempts=self.attempts
        )

    def give_up(self) -> SwitchyardError:
        errors = list(self.errors)
        if not errors and self.open_breakers:
            errors = [
                UpstreamUnavailableError("circuit breaker open: skipped", provider=d.provider, deployment=d.name)
                for d in self.plan.candidates if d.name in self.open_breakers
            ]
        if not errors:
            if self.skipped:
                return self.skipped[0]
            return UpstreamUnavailableError(f"no deployment of '{self.plan.requested}' could take the request")
        if len({e.deployment for e in errors}) == 1:
            # One deployment, tried once or retried: its last error (and status, e.g. 429 with Retry-After) says
            # the most.
            return errors[-1]
        return AllAttemptsFailedError(errors)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
