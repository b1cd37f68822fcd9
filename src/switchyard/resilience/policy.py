"""What a route does about failures: the resolved policy, how each error class is treated, and backoff."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from ..config import HedgeConfig, ResilienceConfig, RetryPolicy, RouteConfig
from ..errors import (
    AuthenticationError,
    BadRequestError,
    ContentFilteredError,
    ContextLengthExceededError,
    PermissionDeniedError,
    RateLimitedError,
    UpstreamError,
    UpstreamNotFoundError,
    UpstreamTimeoutError,
)

__all__ = ["ErrorClass", "Policy", "backoff", "classify"]

ErrorClass = Literal[
    "rate_limit", "timeout", "server_error", "auth", "not_found", "context_length", "content_filter", "bad_request"
]


@dataclass(frozen=True, slots=True)
class Policy:
    retry: RetryPolicy
    deadline_s: float
    fallback_on_content_filter: bool
    stream_continue: bool = False
    hedge: HedgeConfig | None = None

    @classmethod
    def resolve(cls, route: RouteConfig | None, defaults: ResilienceConfig) -> Policy:
        if route is None:
            return cls(defaults.retry, defaults.deadline_s, defaults.fallback_on_content_filter)
        on_filter = route.fallback_on_content_filter
        return cls(
            retry=route.retry or defaults.retry,
            deadline_s=route.deadline_s or defaults.deadline_s,
            fallback_on_content_filter=defaults.fallback_on_content_filter if on_filter is None else on_filter,
            stream_continue=route.stream_continue,
            hedge=route.hedge,
        )


def classify(exc: UpstreamError) -> ErrorClass:
    """The retry class of an upstream error. Order matters: subclasses before their bases."""
    if isinstance(exc, RateLimitedError):
        return "rate_limit"
    if isinstance(exc, UpstreamTimeoutError):
        return "timeout"
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return "auth"
    if isinstance(exc, UpstreamNotFoundError):
        return "not_found"
    if isinstance(exc, ContextLengthExceededError):
        return "context_length"
    if isinstance(exc, ContentFilteredError):
        return "content_filter"
    if isinstance(exc, BadRequestError):
        return "bad_request"
    # Unavailable, malformed answers, other 5xx, reset connections: the deployment's trouble, maybe passing.
    return "server_error"


def backoff(retry: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """Seconds before retry number ``attempt`` (from 0): exponential, with full jitter so that many clients
    retrying one failure do not arrive together."""
    return rng.uniform(0.0, min(retry.backoff_max_s, retry.backoff_base_s * 2**attempt))
