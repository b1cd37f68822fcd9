"""Routing's HTTP surface: feedback on a response, and the experiments report.

    POST /v1/feedback        {"id": "<response id or x-request-id>", "score": 1}  (any gateway key)
    GET  /admin/experiments  every A/B experiment's arms with their statistics   (master key)

Plain functions over a :class:`Gateway`; the app routes to them after checking the caller. Feedback is matched
against the responses this process remembers (``routing.feedback_ttl_s``): with several replicas, send it to the
one that served the response (an unknown id answers 404 saying so).
"""

from __future__ import annotations

import msgspec
import orjson

from ..errors import InvalidRequestError, RequestError
from ..gateway import Gateway

__all__ = ["experiments_report", "record_feedback"]


class _UnknownResponse(RequestError):
    status_code = 404
    error_type = "not_found_error"


class _Feedback(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    """The response's ``id`` (non-streamed answers) or its ``x-request-id``."""
    score: float
    """Any scale the application uses consistently (thumbs: 1 / 0, stars: 1-5); reported as a mean per arm."""


def record_feedback(gateway: Gateway, body: bytes, *, cached: bool | None = None) -> tuple[int, bytes]:
    """``cached``: what the response cache did with the same feedback (``True``: removed the entry, ``False``: kept
    it, ``None``: the response is not the cache's), for a response routing may not know (a cache hit)."""
    try:
        feedback = msgspec.json.decode(body, type=_Feedback)
    except msgspec.ValidationError as exc:
        raise InvalidRequestError(f"invalid feedback: {exc}; send {{\"id\": ..., \"score\": ...}}") from exc
    except msgspec.DecodeError as exc:
        raise InvalidRequestError("feedback body is not valid JSON") from exc
    outcome = gateway.router.feedback(feedback.id, feedback.score)
    if outcome is None and cached is None:
        raise _UnknownResponse(
            f"no response '{feedback.id}' is remembered here: unknown, not from a route with an experiment, "
            f"older than {gateway.config.routing.feedback_ttl_s:g}s, or served by another replica"
        )
    body_out: dict[str, object] = {
        "id": feedback.id, "recorded": True, "route": outcome.route if outcome else None,
        "arm": outcome.arm if outcome else None, "deployment": outcome.deployment if outcome else None,
    }
    if cached is not None:
        body_out["cache_evicted"] = cached
    return 200, orjson.dumps(body_out)


def experiments_report(gateway: Gateway) -> tuple[int, bytes]:
    return 200, orjson.dumps(gateway.router.book.report())
