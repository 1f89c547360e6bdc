"""faena: the Python client and remote worker of the faena job-execution service.

* ``Client`` submits jobs, reads them, long-polls them to the end and cancels them.
* ``Worker`` runs the jobs of *worker kinds* (``faena serve --worker-kinds ...``) with
  Python functions, on threads, an asyncio loop or child processes.
* Errors: ``ApiError`` (and subclasses by status and code) for refused requests,
  ``ConnectionFailed`` when the server cannot be reached; handlers raise ``FatalError``
  to fail a job without retries.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .client import Client
from .context import CancelFlag, JobContext
from .errors import (
    ApiError,
    Cancelled,
    Conflict,
    ConnectionFailed,
    DeadlinePassed,
    FaenaError,
    FatalError,
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    QueueFull,
    StaleLease,
    Unauthorized,
    Unavailable,
    WaitTimeout,
)
from .models import FINAL_STATUSES, BatchItem, Job, JobError, JobInfo, JobSpec, Progress
from .worker import Worker, WorkerStats

__all__ = [
    "__version__",
    "Client",
    "Worker",
    "WorkerStats",
    "JobContext",
    "CancelFlag",
    "Job",
    "JobSpec",
    "JobInfo",
    "JobError",
    "Progress",
    "BatchItem",
    "FINAL_STATUSES",
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
]
