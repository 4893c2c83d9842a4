"""Errors raised by the TikTok hooks and operators.

Every error carries the HTTP status, the API's own error code, the message and, for the
Research API, the ``log_id`` that TikTok support asks for. The hierarchy tells callers
what to do with an error:

* :class:`TikTokUserError` and its subclasses: a per-user outcome (not found, private,
  restricted, invalid). Operators turn these into rows instead of failing.
* :class:`TikTokTransientError`: worth retrying (rate limits, server errors, network faults).
* :class:`TikTokFatalError` and its subclasses: cannot fix itself (bad credentials, quota
  spent). The task fails at once, without Airflow's task retries.
* :class:`TikTokCallerError`: the request itself was wrong (bad parameters).
"""

from __future__ import annotations

from airflow_provider_tiktok.compat import AirflowException, AirflowFailException
from airflow_provider_tiktok.redaction import redact


class TikTokApiError(AirflowException):
    """Base class of every error returned by an upstream TikTok API.

    :param message: what went wrong; known secrets and secret query parameters in it are
        redacted, so upstream texts (an error ``detail`` that echoes the request) are safe.
    :param http_status: the HTTP status, or ``None`` when no response arrived.
    :param api_code: the API's own error code (``"invalid_params"``, ``"491"`` ...).
    :param log_id: the Research API's request id, for TikTok support.
    """

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        api_code: str | None = None,
        log_id: str | None = None,
    ) -> None:
        self.message = redact(message)
        self.http_status = http_status
        self.api_code = api_code
        self.log_id = log_id
        super().__init__(self._render())

    def details(self) -> str:
        """``HTTP <status>, code <api_code>, log_id <log_id>``, of those that are known."""
        details = []
        if self.http_status is not None:
            details.append(f"HTTP {self.http_status}")
        if self.api_code:
            details.append(f"code {self.api_code}")
        if self.log_id:
            details.append(f"log_id {self.log_id}")
        return ", ".join(details)

    def _render(self) -> str:
        details = self.details()
        return f"{self.message} ({details})" if details else self.message

    def with_message(self, message: str) -> TikTokApiError:
        """A copy of this error, of the same class, with another message."""
        return _rebuild_error(type(self), message, self.http_status, self.api_code, self.log_id)

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_error,
            (type(self), self.message, self.http_status, self.api_code, self.log_id),
        )


def _rebuild_error(
    cls: type[TikTokApiError],
    message: str,
    http_status: int | None,
    api_code: str | None,
    log_id: str | None,
) -> TikTokApiError:
    return cls(message, http_status=http_status, api_code=api_code, log_id=log_id)


class TikTokUserError(TikTokApiError):
    """A per-user outcome: this one user could not be returned; the batch goes on."""

    status = "error"


class TikTokUserNotFoundError(TikTokUserError):
    """The user does not exist."""

    status = "not_found"


class TikTokUserPrivateError(TikTokUserError):
    """The account is private."""

    status = "private"


class TikTokUserRestrictedError(TikTokUserError):
    """The API refuses to return this user (restricted, under age, unavailable region...)."""

    status = "restricted"


class TikTokUserInvalidError(TikTokUserError):
    """The API rejected the username or sec_uid as invalid."""

    status = "invalid"


class TikTokTransientError(TikTokApiError):
    """A failure that may go away on its own: retried with backoff by the hooks.

    :param retry_after: seconds the server asked us to wait, from ``Retry-After``.
    """

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        api_code: str | None = None,
        log_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, http_status=http_status, api_code=api_code, log_id=log_id)

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_transient_error,
            (
                type(self),
                self.message,
                self.http_status,
                self.api_code,
                self.log_id,
                self.retry_after,
            ),
        )


def _rebuild_transient_error(
    cls: type[TikTokTransientError],
    message: str,
    http_status: int | None,
    api_code: str | None,
    log_id: str | None,
    retry_after: float | None,
) -> TikTokTransientError:
    return cls(
        message,
        http_status=http_status,
        api_code=api_code,
        log_id=log_id,
        retry_after=retry_after,
    )


class TikTokRateLimitError(TikTokTransientError):
    """HTTP 429: too many requests. Retried, honouring ``Retry-After``."""


class TikTokFatalError(TikTokApiError, AirflowFailException):
    """An error that cannot fix itself: the task fails at once, without task retries."""


class TikTokAuthError(TikTokFatalError):
    """Bad token or client credentials, unverified email, or an unauthorized scope."""


class TikTokAccessTokenInvalidError(TikTokAuthError):
    """The Research API rejected the access token; the hook fetches a new one once."""


class TikTokSubscriptionError(TikTokFatalError):
    """The EnsembleData subscription has expired."""


class TikTokQuotaExhaustedError(TikTokFatalError):
    """The daily budget is spent: EnsembleData units depleted, or the Research API's quota."""


class TikTokCallerError(TikTokApiError, AirflowFailException):
    """The request was malformed (HTTP 422 / ``invalid_params``): retrying cannot help."""


class TikTokBudgetExceededError(TikTokFatalError):
    """The operator's own ``max_units`` budget would be passed by the next call."""
