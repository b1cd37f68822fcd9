"""The alert rules, fed by the gateway through three synchronous hooks.

The hooks run on the request path, so each is O(1) and does no I/O: update a bucketed window, compare, and at
most put an alert on the delivery queue. Rules (thresholds from :class:`~switchyard.config.AlertsConfig`):

``SwitchyardErrorRateHigh``  more than ``error_rate`` of requests failed within ``error_window_s``, per deployment
                             (warning: fallbacks may hide it from clients) and across the gateway (critical);
                             needs ``min_requests`` in the window to fire, so that 1 failure in 2 does not page.
``SwitchyardLatencyHigh``    the ``latency_quantile`` of latencies in the same window is over ``latency_s``, i.e.
                             more than ``1 - latency_quantile`` of requests took longer (warning).
``SwitchyardBudgetSpend``    a budget's spend reached its ``alert_at`` share (warning), or all of it (critical).
                             Sent once per budget window: it resolves, and re-arms, when spend drops below the
                             mark, which is what a new window does.
``SwitchyardProviderDown``   a deployment's circuit breaker opened (critical); resolves when it closes.

A windowed alert that fired resolves once its share is back under the threshold or the window is empty. Below
``min_requests`` it neither fires nor resolves, so a quiet spell does not make it flap. :meth:`tick` (run by
the background task every ``tick_s``) slides the windows when no requests come and re-sends firing alerts
every ``repeat_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Literal

from ..config import AlertsConfig
from .book import AlertBook
from .delivery import Dispatcher
from .model import Alert, Severity
from .window import SlidingCounts

__all__ = ["AlertCounters", "AlertManager"]

ERROR_RATE: Final = "SwitchyardErrorRateHigh"
LATENCY: Final = "SwitchyardLatencyHigh"
BUDGET: Final = "SwitchyardBudgetSpend"
PROVIDER_DOWN: Final = "SwitchyardProviderDown"


@dataclass(frozen=True, slots=True)
class AlertCounters:
    """Delivery statistics for the admin API and metrics. ``sent``/``failed`` count webhook deliveries (one
    alert to two webhooks is two); ``dropped`` counts alerts that were never attempted (queue full, or still
    queued when :meth:`AlertManager.aclose` gave up); ``pending`` is the queue's length now."""

    sent: int
    failed: int
    dropped: int
    pending: int


@dataclass(slots=True)
class _Subject:
    """What the windowed rules watch: one deployment, or the whole gateway."""

    where: str
    """For summaries: ``deployment gpt`` or ``all deployments``."""
    labels: dict[str, str]
    counts: SlidingCounts
    severity: Severity
    """Of its error-rate alert."""
    error_key: tuple[str, str]
    latency_key: tuple[str, str]
    """Book keys, made once: the hot path looks them up on every request."""


def _duration(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    return f"{seconds / 60:g}m" if seconds % 60 == 0 else f"{seconds:g}s"


class AlertManager:
    """Evaluates the alert rules and hands alerts to a background sender.

    ``start()`` begins delivery and the periodic tick, ``aclose()`` flushes what is queued (bounded by a
    timeout); alerts raised before ``start()`` wait in the queue. ``clock`` gives Unix time (``started_at`` and
    ``ends_at`` are in it); hooks take ``now`` to report a time other than the clock's.
    """

    def __init__(
        self,
        config: AlertsConfig,
        *,
        clock: Callable[[], float] = time.time,
        tick_s: float = 15.0,
        queue_size: int = 1000,
        webhook_timeout_s: float = 5.0,
        webhook_attempts: int = 3,
        webhook_backoff_s: float = 0.5,
    ) -> None:
        self._config = config
        self._enabled = config.enabled
        self._clock = clock
        self._tick_s = tick_s
        self._slow_share = 1.0 - config.latency_quantile
        self._book = AlertBook(repeat_s=config.repeat_s)
        self._dispatcher = Dispatcher(
            config.webhooks, queue_size=queue_size, timeout_s=webhook_timeout_s, attempts=webhook_attempts,
            backoff_s=webhook_backoff_s,
        )
        self._global = self._new_subject("all deployments", {"scope": "global"}, "critical")
        self._deployments: dict[str, _Subject] = {}
        self._ticker: asyncio.Task[None] | None = None

    # -- hooks (request path: synchronous, O(1), no I/O) ---------------------------------------------------------

    def on_request(
        self, route: str | None, deployment: str | None, ok: bool, latency_s: float, now: float | None = None
    ) -> None:
        """One finished request: ``deployment`` is the one that answered (or failed last), ``None`` when none was
        called. ``ok=False`` only for failures the gateway or provider is to blame for (5xx-class), not for a
        client's bad request. ``route`` is accepted for symmetry with the metrics hook; routes are not an alert
        scope (a route fails through its deployments, which are)."""
        if not self._enabled:
            return
        now = self._clock() if now is None else now
        slow = latency_s > self._config.latency_s
        self._observe(self._global, now, ok, slow, latency_s)
        if deployment is not None:
            subject = self._deployments.get(deployment)
            if subject is None:
                subject = self._deployments[deployment] = self._new_subject(
                    f"deployment {deployment}", {"scope": "deployment", "deployment": deployment}, "warning"
                )
            self._observe(subject, now, ok, slow, latency_s)

    def on_budget(
        self, budget: str, spent_usd: float, limit_usd: float, alert_at: float | None = None, now: float | None = None
    ) -> None:
        """A budget's spend in its current window (after each settlement, or when the window rolls over).
        ``alert_at``: the budget's own share, else the configured ``spend_ratio``."""
        if not self._enabled:
            return
        now = self._clock() if now is None else now
        key = (BUDGET, budget)
        at = self._config.spend_ratio if alert_at is None else alert_at
        ratio = spent_usd / limit_usd if limit_usd > 0 else 0.0
        if ratio < at:
            self._resolve(key, now)
            return
        severity: Severity = "critical" if ratio >= 1 else "warning"
        entry = self._book.get(key)
        if entry is not None and not self._book.due(entry, severity, now):
            entry.value = ratio
            return
        summary = f"budget {budget}: ${spent_usd:,.2f} of ${limit_usd:,.2f} spent ({ratio:.0%}; alert at {at:.0%})"
        if entry is None:
            self._dispatcher.submit(
                self._book.open(
                    key, name=BUDGET, labels={"budget": budget}, severity=severity, summary=summary, value=ratio,
                    threshold=at, now=now, repeat=False,
                )
            )
        else:
            self._dispatcher.submit(self._book.renew(entry, severity=severity, summary=summary, value=ratio, now=now))

    def on_breaker(
        self, deployment: str, state: Literal["closed", "open", "half_open"], now: float | None = None
    ) -> None:
        """A deployment's breaker changed state. Half-open (a probe is out) keeps a firing alert firing."""
        if not self._enabled:
            return
        now = self._clock() if now is None else now
        key = (PROVIDER_DOWN, deployment)
        if state == "closed":
            self._resolve(key, now)
        elif state == "open" and self._book.get(key) is None:
            summary = f"the circuit breaker of deployment {deployment} is open: requests skip it"
            self._dispatcher.submit(
                self._book.open(
                    key, name=PROVIDER_DOWN, labels={"deployment": deployment}, severity="critical", summary=summary,
                    value=1.0, threshold=1.0, now=now,
                )
            )

    # -- periodic work, state for the admin API ------------------------------------------------------------------

    def tick(self, now: float | None = None) -> None:
        """Slide every window to ``now`` (alerts of deployments that went quiet can resolve) and re-send firing
        alerts whose ``repeat_s`` has passed. The background task calls this every ``tick_s``."""
        if not self._enabled:
            return
        now = self._clock() if now is None else now
        for subject in (self._global, *self._deployments.values()):
            subject.counts.advance(now)
            self._judge(subject, now)
        for entry in self._book.overdue(now):
            self._dispatcher.submit(
                self._book.renew(entry, severity=entry.severity, summary=entry.summary, value=entry.value, now=now)
            )

    def active(self) -> list[Alert]:
        """The alerts firing now, oldest first."""
        return self._book.active()

    @property
    def counters(self) -> AlertCounters:
        d = self._dispatcher
        return AlertCounters(sent=d.sent, failed=d.failed, dropped=d.dropped, pending=d.pending)

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self._enabled or self._ticker is not None:
            return
        await self._dispatcher.start()
        self._ticker = asyncio.create_task(self._tick_loop(), name="switchyard-alerts-tick")

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Stop ticking and deliver what is queued, for at most ``timeout_s`` seconds."""
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        await self._dispatcher.aclose(timeout_s)

    async def __aenter__(self) -> AlertManager:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            self.tick()

    # -- rules ---------------------------------------------------------------------------------------------------

    def _new_subject(self, where: str, labels: dict[str, str], severity: Severity) -> _Subject:
        counts = SlidingCounts(self._config.error_window_s)
        return _Subject(where, labels, counts, severity, (ERROR_RATE, where), (LATENCY, where))

    def _observe(self, subject: _Subject, now: float, ok: bool, slow: bool, latency_s: float) -> None:
        subject.counts.add(now, failed=not ok, slow=slow, latency_s=latency_s)
        self._judge(subject, now)

    def _judge(self, subject: _Subject, now: float) -> None:
        counts = subject.counts
        n = counts.requests
        error_share = counts.failed / n if n else 0.0
        slow_share = counts.slow / n if n else 0.0
        config = self._config
        if n >= config.min_requests and error_share > config.error_rate:
            self._fire_windowed(subject.error_key, subject, subject.severity, error_share, config.error_rate, now)
        elif error_share <= config.error_rate:
            self._resolve(subject.error_key, now)
        if n >= config.min_requests and slow_share > self._slow_share:
            self._fire_windowed(subject.latency_key, subject, "warning", slow_share, self._slow_share, now)
        elif slow_share <= self._slow_share:
            self._resolve(subject.latency_key, now)

    def _fire_windowed(
        self, key: tuple[str, str], subject: _Subject, severity: Severity, share: float, threshold: float, now: float
    ) -> None:
        name = key[0]
        entry = self._book.get(key)
        if entry is not None and not self._book.due(entry, severity, now):
            entry.value = share
            return
        summary = self._summary(name, subject, share)
        if entry is None:
            self._dispatcher.submit(
                self._book.open(
                    key, name=name, labels=subject.labels, severity=severity, summary=summary, value=share,
                    threshold=threshold, now=now,
                )
            )
        else:
            self._dispatcher.submit(self._book.renew(entry, severity=severity, summary=summary, value=share, now=now))

    def _summary(self, name: str, subject: _Subject, share: float) -> str:
        counts, config = subject.counts, self._config
        window = _duration(config.error_window_s)
        if name == ERROR_RATE:
            return (
                f"{share:.1%} of {counts.requests} requests to {subject.where} failed in the last {window} "
                f"(threshold {config.error_rate:.1%})"
            )
        quantile = f"p{config.latency_quantile * 100:g}"
        return (
            f"{quantile} latency of {subject.where} is over {config.latency_s:g}s: {counts.slow} of "
            f"{counts.requests} requests took longer in the last {window} (slowest {counts.max_latency():.1f}s)"
        )

    def _resolve(self, key: tuple[str, str], now: float) -> None:
        alert = self._book.close(key, now)
        if alert is not None:
            self._dispatcher.submit(alert)
