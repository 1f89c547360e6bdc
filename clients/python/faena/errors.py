"""Exceptions of the faena client and worker.

Two families live here:

* ``ApiError`` and its subclasses: the server answered with an RFC 9457 problem document
  (``application/problem+json``); ``status``, ``code``, ``field`` and ``detail`` are taken
  from it. ``ConnectionFailed`` is raised when the server could not be reached at all.
* ``FatalError`` and ``Cancelled``: raised *by handlers* of a ``faena.Worker``. A
  ``FatalError`` (or any exception with ``retryable = False``) fails the job at once, without
  the retries that other exceptions get; ``Cancelled`` is what ``ctx.raise_if_cancelled()``
  raises.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = [
    "FaenaError",
    "ApiError",
    "InvalidRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "StaleLease",
    "DeadlinePassed",
    "PayloadTooLarge",
    "QueueFull",
    "Unavailable",
    "ConnectionFailed",
    "WaitTimeout",
    "FatalError",
    "Cancelled",
    "api_error",
]


class FaenaError(Exception):
    """Base of every error raised by this package."""


class ApiError(FaenaError):
    """The server refused a request: an RFC 9457 problem document.

    ``status`` is the HTTP status, ``code`` the stable machine-readable code (e.g.
    ``invalid_params``), ``field`` the request field at fault (or ``None``), ``detail`` the
    human explanation and ``problem`` the whole document as sent.
    """

    def __init__(
        self,
        status: int,
        code: str,
        field: str | None = None,
        detail: str = "",
        problem: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.field = field
        self.detail = detail
        self.problem: dict[str, Any] = dict(problem or {})
        self.retry_after = retry_after
        where = f" ({field})" if field else ""
        super().__init__(f"{status} {code}{where}: {detail}")


class InvalidRequest(ApiError):
    """400 or 422: a malformed request, or a field, kind or parameter that is wrong."""


class Unauthorized(ApiError):
    """401: API keys are configured and none or an unknown one was sent."""


class Forbidden(ApiError):
    """403: the key's role does not reach this route (worker key vs submit key)."""


class NotFound(ApiError):
    """404: no such job, file or route."""


class Conflict(ApiError):
    """409: the request conflicts with the job's state (e.g. cancel of a final job)."""


class StaleLease(Conflict):
    """409 ``stale_lease``: the lease is no longer the job's; the answer changed nothing."""


class DeadlinePassed(Conflict):
    """409 ``deadline_passed``: the job's deadline passed; it is timed out now."""


class PayloadTooLarge(ApiError):
    """413: the request body is over the server's limit."""


class QueueFull(ApiError):
    """429: the queue is full; ``retry_after`` says when to try again."""


class Unavailable(ApiError):
    """5xx: overloaded, timed out, or the job store is unreachable (``retry_after``)."""


class ConnectionFailed(FaenaError):
    """The server could not be reached, or the connection broke (``__cause__`` says how)."""


class WaitTimeout(FaenaError, TimeoutError):
    """``Client.wait`` gave up before the job was final; ``job`` is its last known state."""

    def __init__(self, job: Any, timeout: float) -> None:
        self.job = job
        super().__init__(f"job {job.id} still {job.status} after {timeout:g} s")


class FatalError(Exception):
    """Raise it in a handler to fail the job at once, without retries.

    Any exception class with a class attribute ``retryable = False`` does the same.
    """

    retryable = False


class Cancelled(Exception):
    """Raised by ``ctx.raise_if_cancelled()`` once the job's cancel flag is set.

    Leaving a handler with it fails the attempt retryably, which the server turns into
    ``cancelled`` when a cancel was requested (a deadline or a lost lease drops the answer).
    """


_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidRequest,
    429: QueueFull,
}

_BY_CODE: dict[str, type[ApiError]] = {
    "stale_lease": StaleLease,
    "deadline_passed": DeadlinePassed,
}


def api_error(status: int, problem: Mapping[str, Any] | None, retry_after: float | None = None) -> ApiError:
    """Builds the right ``ApiError`` subclass from a status and a (possibly empty) problem."""
    problem = problem or {}
    code = str(problem.get("code") or f"http_{status}")
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status)
    if cls is None:
        cls = Unavailable if status >= 500 else ApiError
    field = problem.get("field")
    return cls(
        status=int(problem.get("status") or status),
        code=code,
        field=str(field) if field is not None else None,
        detail=str(problem.get("detail") or ""),
        problem=problem,
        retry_after=retry_after,
    )
