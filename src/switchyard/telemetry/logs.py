"""Structured logs: a JSON formatter for the stdlib ``logging`` module, one line per request, and redaction.

Every request ends with one record on the ``switchyard.requests`` logger (INFO) whose ``switchyard`` attribute
holds the request's fields; :class:`JsonFormatter` writes them as one JSON object per line. The line is only
built when that logger is enabled for INFO, so a library user who configured no logging pays nothing for it.

Secrets never reach a log line: provider keys, the master key and webhook URLs are :class:`~switchyard.config.Secret`
and are never put in a record, and as a second line of defence the formatter masks them (and anything shaped like
an API key or a bearer token) in every message and traceback it writes. Request and response bodies are only
logged with ``telemetry.log_bodies: true``, and then pass through the same :class:`Redactor`, with the configured
personal-data kinds and patterns on top.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

import orjson

from ..redaction.config import Entity
from ..redaction.detectors import Detector

if TYPE_CHECKING:
    from ..config import Config

__all__ = [
    "REDACTED",
    "REQUEST_LOGGER",
    "JsonFormatter",
    "LineHandler",
    "Redactor",
    "configure_logging",
    "request_line",
    "secrets_of",
]

REDACTED: Final = "[REDACTED]"
REQUEST_LOGGER: Final = "switchyard.requests"

request_sink: LineHandler | None = None
"""The handler :func:`configure_logging` installed: request lines go straight to it while it is the only one."""

_SECRET_SHAPES: Final = (
    r"\bsk-[A-Za-z0-9_\-]{8,}",  # OpenAI, Anthropic (sk-ant-), our virtual keys (sk-sy-)
    r"\bAIza[0-9A-Za-z_\-]{30,}",  # Google API keys
    r"(?i:\bbearer\s+[A-Za-z0-9._~+/=\-]{8,})",
    r"(?i:\b(?:api[_-]?key|x-api-key|x-goog-api-key|authorization)[\"']?\s*[:=]\s*[\"']?[^\s\"',;]{6,})",
)


class Redactor:
    """Masks known secret values, secret-shaped strings and, when asked, personal data (found by the request
    redaction's detectors, :mod:`switchyard.redaction.detectors`: one set of PII patterns for both)."""

    def __init__(
        self, secrets: Iterable[str] = (), *, pii: Iterable[Entity] = (), patterns: Iterable[str] = ()
    ) -> None:
        # Longest first, so that a secret containing another is masked whole.
        literal = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        alternatives = [re.escape(s) for s in literal]
        alternatives += [f"(?:{p})" for p in (*_SECRET_SHAPES, *patterns)]
        self._pattern = re.compile("|".join(alternatives))
        kinds = list(pii)
        self._pii = Detector(kinds) if kinds else None

    def __call__(self, text: str) -> str:
        # Secrets first: a key with digits in it must be masked whole, not cut up by a phone number first.
        text = self._pattern.sub(REDACTED, text)
        spans = self._pii(text) if self._pii is not None else None
        if not spans:
            return text
        pieces: list[str] = []
        last = 0
        for start, end, _ in spans:
            pieces += (text[last:start], REDACTED)
            last = end
        pieces.append(text[last:])
        return "".join(pieces)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``msg``, then a request's fields (the
    ``switchyard`` attribute) or the exception. Messages and tracebacks pass through ``redact``."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__()
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] | None = getattr(record, "switchyard", None)
        if fields is not None and not record.exc_info:
            return request_line(record.created, fields, record.levelname.lower(), record.name)
        out: dict[str, Any] = {
            "ts": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": self.redact(record.getMessage()),
        }
        if fields is not None:
            out.update(fields)
        if record.exc_info:
            out["exc"] = self.redact(self.formatException(record.exc_info))
        return orjson.dumps(out, default=str).decode()


def request_line(created: float, fields: dict[str, Any], level: str = "info", name: str = REQUEST_LOGGER) -> str:
    """A request's JSON line: our own fields, already free of secrets, with the common head spliced on as text."""
    head = f'{{"ts":"{_iso(created)}","level":"{level}","logger":"{name}",'
    body = orjson.dumps(fields, default=str).decode()
    return head + '"msg":"request"' + ("," + body[1:] if len(body) > 2 else "}")


class _RedactingTextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields: dict[str, Any] | None = getattr(record, "switchyard", None)
        if fields is not None:
            text += " " + orjson.dumps(fields, default=str).decode()
        return self.redact(text)


_REQUEST_HEAD: Final = b'{"ts":"%s","level":"info","logger":"' + REQUEST_LOGGER.encode() + b'","msg":"request"'

_second: list[Any] = [-1, ""]


def _iso(ts: float) -> str:
    # One line per request: the date and time are formatted once per second, only the milliseconds per line.
    whole = int(ts)
    if whole != _second[0]:
        _second[0], _second[1] = whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{_second[1]}.{min(999, round((ts - whole) * 1000)):03d}Z"


def secrets_of(config: Config) -> list[str]:
    """Every credential in the configuration, to be masked wherever it might show up."""
    found = [p.api_key.get() for p in config.providers.values() if p.api_key is not None]
    if config.governance.master_key is not None:
        found.append(config.governance.master_key.get())
    found.extend(url.get() for url in config.alerts.webhooks)
    found.extend(config.telemetry.tracing.headers.values())
    found.append(config.ledger.url.get())
    if config.cache.enabled:
        found.append(config.cache.url.get())
    return found


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that flushes at most every ``interval_s`` while an event loop runs.

    A request line per request made one ``write`` system call per request, and the stream's own 8 KB buffer one
    per ~20 lines; lines now gather here and go out in one write within ``interval_s`` (or once ``max_pending``
    bytes wait), and at once, after what waits, for warnings and errors and when no event loop runs."""

    def __init__(self, stream: Any, *, interval_s: float = 0.2, max_pending: int = 1 << 20) -> None:
        super().__init__(stream)
        self.interval_s = interval_s
        self.max_pending = max_pending
        self._raw = getattr(stream, "buffer", None)
        self._scheduled = False
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
            if self._raw is None or record.levelno >= logging.WARNING:
                self._write_pending()
                self.stream.write(line)
                self.flush()
                return
            self._buffer(line)
        except Exception:
            self.handleError(record)

    def takes_requests_directly(self, logger: logging.Logger) -> bool:
        """Whether a request line for ``logger`` would reach this handler, and only it, unchanged: then
        :meth:`write_request` may skip the ``LogRecord`` (~10 µs per request, most of the request log's cost at
        c=32). Checked on every line, so handlers or filters added later take the normal path again."""
        root = logging.root
        return (
            self._raw is not None
            and not logger.handlers
            and not logger.filters
            and logger.propagate
            and logger.parent is root
            and len(root.handlers) == 1
            and root.handlers[0] is self
            and not root.filters
            and not self.filters
            and self.level <= logging.INFO
            and type(self.formatter) is JsonFormatter
        )

    def write_request(self, fields: dict[str, Any]) -> None:
        """Write a request line without a ``LogRecord``; only after :meth:`takes_requests_directly` said yes.
        Built as bytes straight from orjson's output (always UTF-8): no round trip through ``str``."""
        body = orjson.dumps(fields, default=str)
        # body[1:] is the fields' JSON after its "{": spliced after the head, it closes the object.
        line = b"".join((_REQUEST_HEAD % _iso(time.time()).encode(), b"," if len(body) > 2 else b"", body[1:], b"\n"))
        with self.lock:  # type: ignore[union-attr]
            self._buffer_bytes(line)

    def _buffer(self, line: str) -> None:
        self._buffer_bytes(line.encode("utf-8", "backslashreplace"))

    def _buffer_bytes(self, data: bytes) -> None:
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= self.max_pending:
            self.flush()
        elif not self._scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._scheduled = True
            loop.call_later(self.interval_s, self._flush_later)

    def _flush_later(self) -> None:
        self._scheduled = False
        self.flush()

    def _write_pending(self) -> None:
        if self._pending and self._raw is not None:
            pending, self._pending, self._pending_bytes = self._pending, [], 0
            self.stream.flush()  # anything its text layer holds (a print to stderr) goes first
            self._raw.write(b"".join(pending))

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_pending()
            if self._raw is not None:
                self._raw.flush()
            super().flush()


def configure_logging(config: Config, *, level: int = logging.WARNING) -> None:
    """Set up the process's logging the way ``switchyard serve`` writes it: every record to stderr, in JSON or
    text, with the configuration's secrets masked; request lines at INFO when ``telemetry.request_log`` is on.
    For servers only: a library embedding :class:`~switchyard.Gateway` configures logging itself."""
    settings = config.telemetry
    redact = Redactor(secrets_of(config))
    handler = LineHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(redact) if settings.log_format == "json" else _RedactingTextFormatter(redact))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    global request_sink
    request_sink = handler
    requests = logging.getLogger(REQUEST_LOGGER)
    requests.setLevel(logging.INFO if settings.request_log else logging.WARNING)
