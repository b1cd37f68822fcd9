"""The error tree. Everything Switchyard raises is a ``SwitchyardError``::

    SwitchyardError
    ├── ConfigError                      invalid configuration; names the offending key
    ├── RequestError                     the client's request cannot be served as sent (4xx, never retried)
    │   ├── InvalidRequestError          400 malformed or wrongly typed input
    │   ├── UnsupportedFeatureError      400 the chosen provider cannot do something the request asks for
    │   ├── ModelNotFoundError           404 no model or route by that name
    │   ├── MethodNotAllowedError        405
    │   ├── PayloadTooLargeError         413
    │   ├── UnauthorizedError            401 missing, unknown or revoked gateway key
    │   ├── ForbiddenError               403 the key may not use this model/route, or the endpoint needs the master key
    │   ├── BudgetExceededError          402 a hard budget would be exceeded; names the budget and when it resets
    │   ├── MaxCostExceededError         400 the request's estimated cost exceeds its ``max_cost``
    │   └── LimitExceededError           429 a gateway rate limit (RPM/TPM); ``retry_after`` seconds
    ├── UpstreamError                    a provider call failed; carries provider, deployment, status
    │   ├── AuthenticationError          401   retry: no   fallback: yes (another provider's key may work)
    │   ├── PermissionDeniedError        403   retry: no   fallback: yes
    │   ├── UpstreamNotFoundError        404   retry: no   fallback: yes
    │   ├── BadRequestError              400   retry: no   fallback: no  (the request itself is wrong)
    │   │   └── ContextLengthExceededError     retry: no   fallback: yes (to a larger context window)
    │   ├── ContentFilteredError         400   retry: no   fallback: no  (another provider answering what one
    │   │                                                                  refused is a policy decision)
    │   ├── RateLimitedError             429   retry: yes  fallback: yes (``retry_after`` seconds if known)
    │   ├── UpstreamTimeoutError         504   retry: yes  fallback: yes
    │   ├── UpstreamUnavailableError     503   retry: yes  fallback: yes (5xx, connection refused/reset)
    │   └── MalformedResponseError       502   retry: yes  fallback: yes (unparseable upstream answer)
    ├── AllAttemptsFailedError           502/503 every candidate failed; lists each attempt
    ├── NoCandidateError                 400/503 routing filters left no deployment; says which removed which
    ├── StateUnavailableError            503 the shared state store is unreachable and policy is fail-closed
    └── DatabaseUnavailableError         503 the usage/key database cannot be reached or refused the operation

Adapters map upstream failures into this tree at the boundary (``raise Mapped(...) from exc``); the HTTP
layer maps the tree onto OpenAI's error body in one place. Messages never contain credentials.

This module imports nothing of ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

__all__ = [
    "AllAttemptsFailedError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ConfigError",
    "ContentFilteredError",
    "ContextLengthExceededError",
    "DatabaseUnavailableError",
    "ForbiddenError",
    "InvalidRequestError",
    "LimitExceededError",
    "MalformedResponseError",
    "MaxCostExceededError",
    "MethodNotAllowedError",
    "ModelNotFoundError",
    "NoCandidateError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequestError",
    "StateUnavailableError",
    "SwitchyardError",
    "UnauthorizedError",
    "UnsupportedFeatureError",
    "UpstreamError",
    "UpstreamNotFoundError",
    "UpstreamTimeoutError",
    "UpstreamUnavailableError",
]


class SwitchyardError(Exception):
    """Base of every error Switchyard raises."""

    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "api_error"
    """OpenAI-style ``error.type`` for the HTTP body."""

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param


class ConfigError(SwitchyardError):
    """The configuration is invalid. The message names the offending key (``routes.fast.targets[1]``)."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


class RequestError(SwitchyardError):
    status_code = 400
    error_type = "invalid_request_error"


class InvalidRequestError(RequestError):
    pass


class UnsupportedFeatureError(RequestError):
    """The provider serving this request cannot do something it asks for."""

    def __init__(self, provider: str, feature: str, *, model: str | None = None, hint: str = "") -> None:
        where = f"provider '{provider}'" + (f" (model '{model}')" if model else "")
        message = f"{where} does not support {feature}" + (f"; {hint}" if hint else "")
        super().__init__(message, code="unsupported_feature", param=None)
        self.provider = provider
        self.feature = feature


class ModelNotFoundError(RequestError):
    status_code = 404
    error_type = "not_found_error"

    def __init__(self, message: str) -> None:
        super().__init__(message, code="model_not_found", param="model")


class MethodNotAllowedError(RequestError):
    status_code = 405


class PayloadTooLargeError(RequestError):
    status_code = 413


class UnauthorizedError(RequestError):
    status_code = 401
    error_type = "authentication_error"

    def __init__(self, message: str) -> None:
        super().__init__(message, code="invalid_api_key")


class ForbiddenError(RequestError):
    status_code = 403
    error_type = "permission_error"

    def __init__(self, message: str, *, code: str = "forbidden") -> None:
        super().__init__(message, code=code)


class BudgetExceededError(RequestError):
    """402 rather than 429: retrying cannot help before ``resets_at`` and the SDKs retry 429s automatically."""

    status_code = 402
    error_type = "budget_exceeded"

    def __init__(self, message: str, *, budget: str, resets_at: float | None) -> None:
        super().__init__(message, code="budget_exceeded")
        self.budget = budget
        self.resets_at = resets_at


class MaxCostExceededError(RequestError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="max_cost_exceeded", param="max_cost")


class LimitExceededError(RequestError):
    """A gateway rate limit (the client's, or ours on its behalf to stay under a provider's limit)."""

    status_code = 429
    error_type = "rate_limit_error"

    def __init__(self, message: str, *, limit: str, retry_after: float) -> None:
        super().__init__(message, code="rate_limit_exceeded")
        self.limit = limit
        self.retry_after = retry_after


class StateUnavailableError(SwitchyardError):
    status_code = 503
    error_type = "api_error"


class DatabaseUnavailableError(SwitchyardError):
    """The usage ledger / virtual-key database failed. The message names the database by its redacted URL."""

    status_code = 503
    error_type = "api_error"


class UpstreamError(SwitchyardError):
    """A provider call failed. ``retryable``: the same deployment may succeed on another try;
    ``fallback``: another deployment may succeed where this one failed."""

    status_code = 502
    error_type = "upstream_error"
    retryable: ClassVar[bool] = False
    fallback: ClassVar[bool] = True

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        deployment: str = "",
        upstream_status: int | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message, code=code, param=param)
        self.provider = provider
        self.deployment = deployment
        self.upstream_status = upstream_status

    def __str__(self) -> str:
        who = self.deployment or self.provider
        return f"[{who}] {self.message}" if who else self.message


class AuthenticationError(UpstreamError):
    status_code = 401
    error_type = "authentication_error"


class PermissionDeniedError(UpstreamError):
    status_code = 403
    error_type = "permission_error"


class UpstreamNotFoundError(UpstreamError):
    status_code = 404
    error_type = "not_found_error"


class BadRequestError(UpstreamError):
    status_code = 400
    error_type = "invalid_request_error"
    fallback = False


class ContextLengthExceededError(BadRequestError):
    fallback = True


class ContentFilteredError(UpstreamError):
    status_code = 400
    error_type = "content_filter"
    fallback = False


class RateLimitedError(UpstreamError):
    status_code = 429
    error_type = "rate_limit_error"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        provider: str = "",
        deployment: str = "",
        upstream_status: int | None = 429,
        code: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider, deployment=deployment, upstream_status=upstream_status, code=code)
        self.retry_after = retry_after


class UpstreamTimeoutError(UpstreamError):
    status_code = 504
    error_type = "timeout_error"
    retryable = True


class UpstreamUnavailableError(UpstreamError):
    status_code = 503
    error_type = "upstream_unavailable"
    retryable = True


class MalformedResponseError(UpstreamError):
    status_code = 502
    error_type = "malformed_upstream_response"
    retryable = True


class AllAttemptsFailedError(SwitchyardError):
    """Every candidate deployment failed. ``errors`` holds each attempt's error, in order."""

    error_type = "upstream_error"

    def __init__(self, errors: Sequence[UpstreamError]) -> None:
        self.errors = list(errors)
        detail = "; ".join(f"{e.deployment or e.provider}: {type(e).__name__}: {e.message}" for e in errors)
        super().__init__(f"all {len(errors)} attempt(s) failed: {detail}", code="all_attempts_failed")

    @property
    def status_code(self) -> int:  # type: ignore[override]
        # 503 when every failure was a capacity problem (the client may retry later), 502 otherwise.
        capacity = (RateLimitedError, UpstreamUnavailableError, UpstreamTimeoutError)
        return 503 if self.errors and all(isinstance(e, capacity) for e in self.errors) else 502


class NoCandidateError(SwitchyardError):
    """No deployment of the route qualifies for the request. ``removed`` maps each filter (``mode``: chat or
    embedding, ``capability``, ``context_window``, ``tags``, ``health``) to the deployments it removed.

    400 when the request can never be served as sent (it needs vision and no target has it); 503 when some
    deployment would qualify but for its health (an open circuit breaker), since that passes.
    """

    def __init__(self, message: str, *, removed: dict[str, list[str]]) -> None:
        super().__init__(message, code="no_candidate", param="model")
        self.removed = removed

    @property
    def unavailable(self) -> bool:
        return "health" in self.removed

    @property
    def status_code(self) -> int:  # type: ignore[override]
        return 503 if self.unavailable else 400

    @property
    def error_type(self) -> str:  # type: ignore[override]
        return "upstream_unavailable" if self.unavailable else "invalid_request_error"
