"""The workers' routes of faena, one method each: the wire protocol and nothing more.

``claim`` (``POST /workers/claim``, long-polling), ``heartbeat`` (``POST /jobs/{id}/heartbeat``),
``answer`` (``POST /workers/complete``: results, failures and hand-backs of many jobs in one
request, each answered on its own) and ``hand_back`` (``POST /jobs/{id}/hand-back``). Against a
server without the batch route, ``answer`` falls back to ``/complete`` and ``/fail`` per job.
``Outcome`` is one job's answer as queued by the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ._conn import Connection
from ._http import Http
from .errors import ApiError, ConnectionFailed, NotFound, api_error

__all__ = ["Outcome", "Answer", "WorkerProtocol", "MAX_OUTCOMES"]

#: Most outcomes in one ``POST /workers/complete``.
MAX_OUTCOMES = 1000


@dataclass
class Outcome:
    """One job's answer: a ``result``, a failure (``fail`` = code, message, retryable) or a
    hand-back, with the lease of its claim and its last progress."""

    id: str
    lease: int
    result: Any = None
    fail: tuple[str, str, bool] | None = None
    hand_back: bool = False
    progress: tuple[int, int] | None = None
    #: About how many bytes it adds to a request (its result's JSON; 0 when not known).
    size: int = 0

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "lease": self.lease}
        if self.hand_back:
            body["hand_back"] = True
            return body
        if self.fail is not None:
            code, message, retryable = self.fail
            body["fail"] = {"code": code, "message": message, "retryable": retryable}
        else:
            body["result"] = self.result
        if self.progress is not None:
            body["progress"] = {"done": self.progress[0], "total": self.progress[1]}
        return body


@dataclass(frozen=True)
class Answer:
    """The server's answer to one outcome: the job's ``status`` after it, or an ``error``."""

    id: str
    status: str | None = None
    error: ApiError | None = None


class WorkerProtocol:
    """The workers' routes: claims over the ``claims`` connection, answer batches over
    ``answers`` (each used by one thread), the rest over ``http``."""

    def __init__(self, http: Http, claims: Connection, answers: Connection) -> None:
        self.http = http
        self.claims = claims
        self.answers = answers
        #: False once the server answered 404 to ``POST /workers/complete`` (an older server).
        self.batch_route = True

    def claim(self, worker: str, kinds: Sequence[str], max_jobs: int, wait_ms: int) -> list[dict[str, Any]]:
        """Claims up to ``max_jobs`` jobs, waiting up to ``wait_ms`` for one to be ready;
        raises ``Aborted`` when ``claims.abort()`` cut the wait."""
        body = {"worker": worker, "kinds": list(kinds), "max": max_jobs, "wait_ms": wait_ms}
        doc = self.claims.post("/workers/claim", body, timeout=self.http.timeout + wait_ms / 1000)
        jobs = doc.get("jobs")
        if not isinstance(jobs, list):
            raise ConnectionFailed("POST /workers/claim: an answer without its jobs")
        return jobs

    def heartbeat(
        self, job_id: str, lease: int, progress: tuple[int, int] | None, timeout: float
    ) -> dict[str, Any]:
        """Renews a lease; the answer has ``lease_expires_at`` and ``cancel_requested``."""
        body: dict[str, Any] = {"lease": lease}
        if progress is not None:
            body["progress"] = {"done": progress[0], "total": progress[1]}
        _, doc, _ = self.http.request("POST", f"/jobs/{job_id}/heartbeat", body, timeout=timeout)
        return dict(doc)

    def answer(self, outcomes: Sequence[Outcome]) -> list[Answer]:
        """Sends up to ``MAX_OUTCOMES`` outcomes; one ``Answer`` per outcome, in order.

        Raises (``ConnectionFailed``, ``ApiError``) only for the request as a whole.
        """
        if self.batch_route:
            try:
                body = {"outcomes": [o.to_json() for o in outcomes]}
                doc = self.answers.post("/workers/complete", body)
                items = doc.get("outcomes")
                if not isinstance(items, list) or len(items) != len(outcomes):
                    raise ConnectionFailed("POST /workers/complete: an answer without one item per outcome")
                return [_answer(item) for item in items]
            except NotFound as exc:
                if exc.code != "not_found":  # a route, not a job, is missing
                    raise
                self.batch_route = False
        return [self._one(o) for o in outcomes]

    def hand_back(self, job_id: str, lease: int) -> dict[str, Any]:
        """Gives a claimed job back to the queue, its attempt uncounted."""
        _, doc, _ = self.http.request("POST", f"/jobs/{job_id}/hand-back", {"lease": lease})
        return dict(doc)

    def _one(self, o: Outcome) -> Answer:
        """One outcome on the per-job routes (servers without ``/workers/complete``)."""
        try:
            if o.hand_back:
                doc = self.hand_back(o.id, o.lease)
            else:
                body = o.to_json()
                del body["id"]
                route = "complete"
                if "fail" in body:
                    route = "fail"
                    body.update(body.pop("fail"))
                _, doc, _ = self.http.request("POST", f"/jobs/{o.id}/{route}", body)
            return Answer(o.id, status=doc.get("status"))
        except ApiError as exc:
            if exc.status >= 500 or exc.status == 429:
                raise
            return Answer(o.id, error=exc)


def _answer(item: Mapping[str, Any]) -> Answer:
    problem = item.get("problem")
    if problem is not None:
        return Answer(str(item["id"]), error=api_error(int(problem.get("status") or 409), problem))
    return Answer(str(item["id"]), status=item.get("status"))
