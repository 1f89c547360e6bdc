"""The values the API hands back, as typed, immutable dataclasses.

``Job`` is a job as ``GET /jobs/{id}`` serves it; ``BatchItem`` one line of the answer of
``POST /jobs/batch``; ``JobSpec`` one job to submit in a batch; ``JobInfo`` what a worker's
handler learns about the job it runs (``ctx.job``). Every ``from_json`` keeps the raw
document in ``raw`` so that fields added by a newer server are not lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Sequence

from .errors import ApiError, api_error

__all__ = [
    "FINAL_STATUSES",
    "Progress",
    "JobError",
    "AttemptError",
    "Job",
    "JobSpec",
    "BatchItem",
    "JobInfo",
    "parse_time",
]

#: Statuses a job never leaves.
FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "timed_out"})


def parse_time(value: Any) -> datetime | None:
    """Parses an RFC 3339 time of the API (``...Z``) into an aware ``datetime``."""
    if value is None:
        return None
    text = str(value)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class Progress:
    """Units of work done out of the total."""

    done: int
    total: int

    @classmethod
    def from_json(cls, doc: Mapping[str, Any] | None) -> Progress | None:
        return None if doc is None else cls(int(doc["done"]), int(doc["total"]))


@dataclass(frozen=True)
class JobError:
    """Why a job failed, timed out or was cancelled (``code`` e.g. ``worker_failed``)."""

    code: str
    message: str

    @classmethod
    def from_json(cls, doc: Mapping[str, Any] | None) -> JobError | None:
        return None if doc is None else cls(str(doc["code"]), str(doc["message"]))


@dataclass(frozen=True)
class AttemptError:
    """How one attempt ended without succeeding."""

    attempt: int
    code: str
    message: str
    at: datetime | None
    instance: str | None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> AttemptError:
        return cls(
            attempt=int(doc["attempt"]),
            code=str(doc["code"]),
            message=str(doc["message"]),
            at=parse_time(doc.get("at")),
            instance=doc.get("instance"),
        )


@dataclass(frozen=True)
class Job:
    """A job as stored by the server."""

    id: str
    kind: str
    status: str
    params: Any = None
    priority: int = 0
    timeout_ms: int | None = None
    attempt: int = 0
    max_attempts: int | None = None
    instance: str | None = None
    depends_on: tuple[str, ...] = ()
    progress: Progress | None = None
    created_at: datetime | None = None
    run_after: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: Any = None
    error: JobError | None = None
    errors: tuple[AttemptError, ...] = ()
    retry_of: str | None = None
    traceparent: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_final(self) -> bool:
        """True once the job is ``succeeded``, ``failed``, ``cancelled`` or ``timed_out``."""
        return self.status in FINAL_STATUSES

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Job:
        return cls(
            id=str(doc["id"]),
            kind=str(doc["kind"]),
            status=str(doc["status"]),
            params=doc.get("params"),
            priority=int(doc.get("priority") or 0),
            timeout_ms=doc.get("timeout_ms"),
            attempt=int(doc.get("attempt") or 0),
            max_attempts=doc.get("max_attempts"),
            instance=doc.get("instance"),
            depends_on=tuple(doc.get("depends_on") or ()),
            progress=Progress.from_json(doc.get("progress")),
            created_at=parse_time(doc.get("created_at")),
            run_after=parse_time(doc.get("run_after")),
            started_at=parse_time(doc.get("started_at")),
            finished_at=parse_time(doc.get("finished_at")),
            result=doc.get("result"),
            error=JobError.from_json(doc.get("error")),
            errors=tuple(AttemptError.from_json(e) for e in doc.get("errors") or ()),
            retry_of=doc.get("retry_of"),
            traceparent=doc.get("traceparent"),
            raw=dict(doc),
        )


@dataclass(frozen=True)
class JobSpec:
    """One job to submit with ``Client.submit_many`` (the body of ``POST /jobs``)."""

    kind: str
    params: Any = None
    priority: int | None = None
    max_attempts: int | None = None
    timeout_ms: int | None = None
    run_after: datetime | str | None = None
    depends_on: Sequence[str] | None = None

    def to_json(self) -> dict[str, Any]:
        """The request body: only the options that are set."""
        body: dict[str, Any] = {"kind": self.kind, "params": {} if self.params is None else self.params}
        for name in ("priority", "max_attempts", "timeout_ms"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        if self.run_after is not None:
            body["run_after"] = format_time(self.run_after)
        if self.depends_on is not None:
            body["depends_on"] = list(self.depends_on)
        return body


def format_time(value: datetime | str) -> str:
    """An RFC 3339 string for the API; a naive ``datetime`` is refused (ambiguous)."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("run_after must be timezone-aware (e.g. datetime.now(timezone.utc))")
    return value.isoformat()


@dataclass(frozen=True)
class BatchItem:
    """The outcome of one job of ``POST /jobs/batch``, in the order they were sent.

    ``accepted`` items have ``id`` and ``job_status`` (``queued``, or ``failed`` when a
    dependency had already failed); refused ones have ``error``, an ``ApiError`` whose
    ``field`` is prefixed ``jobs[i].``.
    """

    status: int
    id: str | None = None
    job_status: str | None = None
    error: ApiError | None = None

    @property
    def accepted(self) -> bool:
        return self.error is None and self.id is not None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> BatchItem:
        status = int(doc["status"])
        job = doc.get("job")
        problem = doc.get("problem")
        return cls(
            status=status,
            id=None if job is None else str(job["id"]),
            job_status=None if job is None else job.get("status"),
            error=None if problem is None else api_error(status, problem),
        )


@dataclass(frozen=True)
class JobInfo:
    """What a handler knows of the job it runs (``ctx.job``): picklable, for child processes."""

    id: str
    kind: str
    attempt: int
    max_attempts: int
    deadline_at: datetime | None
    lease: int
    traceparent: str | None = None

    @property
    def trace_id(self) -> str | None:
        """The 32 hex digits of the W3C trace id, or ``None`` without a traceparent."""
        parts = (self.traceparent or "").split("-")
        return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None

    @classmethod
    def from_claim(cls, doc: Mapping[str, Any]) -> JobInfo:
        return cls(
            id=str(doc["id"]),
            kind=str(doc["kind"]),
            attempt=int(doc["attempt"]),
            max_attempts=int(doc["max_attempts"]),
            deadline_at=parse_time(doc.get("deadline_at")),
            lease=int(doc["lease"]),
            traceparent=doc.get("traceparent"),
        )
