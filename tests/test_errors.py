"""The error tree: each class says whether retrying or falling back makes sense."""

from __future__ import annotations

import pytest

from switchyard import errors as e


@pytest.mark.parametrize(
    ("cls", "status", "retryable", "fallback"),
    [
        (e.AuthenticationError, 401, False, True),
        (e.PermissionDeniedError, 403, False, True),
        (e.UpstreamNotFoundError, 404, False, True),
        (e.BadRequestError, 400, False, False),
        (e.ContextLengthExceededError, 400, False, True),
        (e.ContentFilteredError, 400, False, False),
        (e.RateLimitedError, 429, True, True),
        (e.UpstreamTimeoutError, 504, True, True),
        (e.UpstreamUnavailableError, 503, True, True),
        (e.MalformedResponseError, 502, True, True),
    ],
)
def test_upstream_error_semantics(cls: type[e.UpstreamError], status: int, retryable: bool, fallback: bool) -> None:
    error = cls("boom", provider="p", deployment="d")
    assert (error.status_code, error.retryable, error.fallback) == (status, retryable, fallback)
    assert isinstance(error, e.UpstreamError)
    assert isinstance(error, e.SwitchyardError)
    assert str(error) == "[d] boom"


def test_all_attempts_failed_status_depends_on_the_failures() -> None:
    capacity = [e.RateLimitedError("slow", deployment="a"), e.UpstreamTimeoutError("late", deployment="b")]
    assert e.AllAttemptsFailedError(capacity).status_code == 503
    mixed = [*capacity, e.AuthenticationError("key", deployment="c")]
    failed = e.AllAttemptsFailedError(mixed)
    assert failed.status_code == 502
    assert "a: RateLimitedError: slow" in failed.message
    assert "c: AuthenticationError: key" in failed.message


def test_request_errors_are_client_errors() -> None:
    assert e.ModelNotFoundError("x").status_code == 404
    assert e.PayloadTooLargeError("x").status_code == 413
    unsupported = e.UnsupportedFeatureError("anthropic", "logit_bias", model="claude")
    assert unsupported.status_code == 400
    assert unsupported.message == "provider 'anthropic' (model 'claude') does not support logit_bias"
