"""Sending alerts, off the request path: hooks put them on a bounded queue and one background task drains it.

Every alert becomes a log line on the ``switchyard.alerts`` logger (warning when firing, info when resolved; the
alert's fields ride along as ``extra={"alert": {...}}`` for JSON log formatters) and a POST of Slack-compatible
JSON (``text`` plus the structured fields) to each webhook. A webhook that fails is retried with exponential
backoff; after ``attempts`` tries that alert is given up for that webhook and counted in ``failed``. A full queue
drops the alert and counts it in ``dropped``: a slow receiver must never slow requests down or grow memory.

Webhook URLs often carry their token in the path or query string (Slack, Teams), so nothing here logs more of
one than its scheme and host, and upstream exceptions are logged by class name only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

import aiohttp
import orjson

from ..config import Secret
from .model import Alert

__all__ = ["Dispatcher", "redact_url"]

logger = logging.getLogger("switchyard.alerts")

_RETRYABLE_4XX = frozenset({408, 425, 429})
"""Client errors that may pass on a later try; any other 4xx means the request itself is refused."""


def redact_url(url: str) -> str:
    """``scheme://host[:port]/…``: enough to tell webhooks apart, never the userinfo, path or query."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    return f"{parts.scheme}://{host}{port}/…"


class Dispatcher:
    """Owns the queue, the webhook session and the delivery counters. Counters are per webhook delivery
    (``sent``, ``failed``) and per alert (``dropped``: never attempted, queue full or closed before its turn)."""

    def __init__(
        self,
        webhooks: Sequence[Secret],
        *,
        queue_size: int = 1000,
        timeout_s: float = 5.0,
        attempts: int = 3,
        backoff_s: float = 0.5,
    ) -> None:
        if queue_size < 1 or attempts < 1:
            raise ValueError("queue_size and attempts must be at least 1")
        self._webhooks = list(webhooks)
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=queue_size)
        self._timeout_s = timeout_s
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def submit(self, alert: Alert) -> None:
        """Queue ``alert`` for delivery; never blocks (a full queue drops it and counts it)."""
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            self.dropped += 1

    async def start(self) -> None:
        if self._task is not None:
            return
        if self._webhooks:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout_s))
        self._task = asyncio.create_task(self._run(), name="switchyard-alerts")

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Deliver what is queued, waiting at most ``timeout_s``; what is left then is counted as dropped."""
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout_s)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()
            self.dropped += 1
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        while True:
            alert = await self._queue.get()
            try:
                await self._deliver(alert)
            except Exception as exc:
                # The drain task must outlive any one bad alert, or every later alert would sit in the queue.
                # Class name only: an exception's text or traceback may quote a webhook URL.
                logger.error("delivering alert %s failed: %s", alert.name, type(exc).__name__)
            finally:
                self._queue.task_done()

    async def _deliver(self, alert: Alert) -> None:
        labels = " ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
        logger.log(
            logging.WARNING if alert.status == "firing" else logging.INFO,
            "alert %s %s severity=%s fingerprint=%s %s: %s",
            alert.status, alert.name, alert.severity, alert.fingerprint, labels, alert.summary,
            extra={"alert": alert.to_dict()},
        )
        session = self._session
        if session is None:
            return
        body = orjson.dumps({"text": alert.text(), **alert.to_dict()})
        await asyncio.gather(*(self._post(session, i, url, alert, body) for i, url in enumerate(self._webhooks)))

    async def _post(self, session: aiohttp.ClientSession, index: int, url: Secret, alert: Alert, body: bytes) -> None:
        outcome = ""
        attempt = 0
        try:
            for attempt in range(1, self._attempts + 1):
                try:
                    async with session.post(
                        url.get(), data=body, headers={"Content-Type": "application/json"}, allow_redirects=False
                    ) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    outcome = type(exc).__name__
                else:
                    if 200 <= status < 300:
                        self.sent += 1
                        return
                    outcome = f"HTTP {status}"
                    if status < 500 and status not in _RETRYABLE_4XX:
                        break
                if attempt < self._attempts:
                    await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
        except asyncio.CancelledError:
            # Closed before this delivery finished (aclose timed out): it did not arrive.
            self.failed += 1
            raise
        self.failed += 1
        logger.warning(
            "alert webhook #%d (%s) gave up on %s %s after %d attempt(s): %s",
            index, redact_url(url.get()), alert.status, alert.name, attempt, outcome,
        )
