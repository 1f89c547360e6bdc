"""``faena.Client``: submit jobs, read them, long-poll them to the end, cancel them.

A synchronous client over one ``httpx.Client`` (thread-safe, keeps connections alive); use
it as a context manager or call ``close()``. Every error answer raises an ``ApiError``
subclass carrying the problem document's ``status``, ``code``, ``field`` and ``detail``.

    with faena.Client("http://127.0.0.1:8080") as client:
        job = client.submit("count_primes", {"start": 0, "end": 1_000_000})
        print(client.wait(job.id).result)          # {'count': 78498}
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from ._http import Http
from .errors import WaitTimeout
from .models import BatchItem, Job, JobSpec

__all__ = ["Client", "MAX_BATCH", "MAX_WAIT_MS"]

#: Most jobs in one ``POST /jobs/batch`` (larger lists are split).
MAX_BATCH = 1000
#: Longest ``wait_ms`` the server takes for one long-poll.
MAX_WAIT_MS = 60_000


class Client:
    """A client of faena's job API.

    ``url`` is the server's base URL, ``api_key`` a submit key (sent as
    ``Authorization: Bearer KEY``), ``timeout`` the seconds one request may take on top of
    any long-poll it asks for.
    """

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 30.0) -> None:
        self._http = Http(url, api_key, timeout)
        self.timeout = timeout

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connections."""
        self._http.close()

    def submit(
        self,
        kind: str,
        params: Any = None,
        *,
        priority: int | None = None,
        max_attempts: int | None = None,
        timeout_ms: int | None = None,
        run_after: datetime | str | None = None,
        depends_on: Sequence[str] | None = None,
        idempotency_key: str | None = None,
        traceparent: str | None = None,
        wait_ms: int | None = None,
    ) -> Job:
        """Submits a job (``POST /jobs``) and returns it as committed.

        ``run_after`` is an aware ``datetime`` or an RFC 3339 string; ``idempotency_key``
        makes a repeat of the same request return the first job; ``traceparent`` (W3C,
        ``00-<32 hex>-<16 hex>-<2 hex>``) ties the job to a trace, and the server makes one
        when it is absent; ``wait_ms`` (≤ 60000) waits that long for the job to be final.
        """
        spec = JobSpec(kind, params, priority, max_attempts, timeout_ms, run_after, depends_on)
        headers = {}
        if idempotency_key is not None:
            headers["idempotency-key"] = idempotency_key
        if traceparent is not None:
            headers["traceparent"] = traceparent
        _, doc, _ = self._http.request(
            "POST",
            "/jobs",
            spec.to_json(),
            params={"wait_ms": wait_ms},
            headers=headers,
            timeout=self._long(wait_ms),
        )
        return Job.from_json(doc)

    def submit_many(
        self,
        specs: Iterable[JobSpec | Mapping[str, Any]],
        *,
        traceparent: str | None = None,
    ) -> list[BatchItem]:
        """Submits many jobs with ``POST /jobs/batch``, 1000 per request, in order.

        Each item of the answer says whether its job was stored (``item.accepted``, with
        ``item.id``) or refused alone (``item.error``, an ``ApiError``). Items are dicts with
        the keys of ``POST /jobs`` or ``JobSpec``s. An error of a whole request (``429``: the
        valid ones do not fit in the queue; ``503``) raises, and the earlier requests stay.
        """
        bodies = [s.to_json() if isinstance(s, JobSpec) else dict(s) for s in specs]
        headers = {"traceparent": traceparent} if traceparent is not None else None
        items: list[BatchItem] = []
        for start in range(0, len(bodies), MAX_BATCH):
            chunk = bodies[start : start + MAX_BATCH]
            _, doc, _ = self._http.request("POST", "/jobs/batch", {"jobs": chunk}, headers=headers)
            items.extend(BatchItem.from_json(item) for item in doc["items"])
        return items

    def get(self, job_id: str, *, wait_ms: int | None = None) -> Job:
        """Reads a job (``GET /jobs/{id}``); with ``wait_ms``, long-polls up to that long."""
        _, doc, _ = self._http.request(
            "GET", f"/jobs/{job_id}", params={"wait_ms": wait_ms}, timeout=self._long(wait_ms)
        )
        return Job.from_json(doc)

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Long-polls the job until it is final and returns it.

        Repeats ``GET /jobs/{id}?wait_ms=...`` (60 s at most each); with ``timeout`` (s),
        raises ``WaitTimeout`` (a ``TimeoutError``, carrying the last state) past it.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left_ms = MAX_WAIT_MS
            if deadline is not None:
                left_ms = min(MAX_WAIT_MS, max(0, int((deadline - time.monotonic()) * 1000)))
            job = self.get(job_id, wait_ms=left_ms)
            if job.is_final:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(job, timeout or 0.0)

    def cancel(self, job_id: str) -> Job:
        """Cancels a job (``POST /jobs/{id}/cancel``): a queued one at once, a running one is
        asked to stop (for a worker kind, through its next heartbeat). ``Conflict`` when the
        job is already final."""
        _, doc, _ = self._http.request("POST", f"/jobs/{job_id}/cancel")
        return Job.from_json(doc)

    def retry(self, job_id: str) -> Job:
        """Submits a new job like a failed, timed-out or cancelled one (``POST /jobs/{id}/retry``)."""
        _, doc, _ = self._http.request("POST", f"/jobs/{job_id}/retry")
        return Job.from_json(doc)

    def delete(self, job_id: str) -> None:
        """Deletes a final job (``DELETE /jobs/{id}``)."""
        self._http.request("DELETE", f"/jobs/{job_id}")

    def list(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> tuple[list[Job], str | None]:
        """One page of jobs, newest first (``GET /jobs``): ``(jobs, next_cursor)``."""
        params = {"status": status, "kind": kind, "limit": limit, "cursor": cursor}
        _, doc, _ = self._http.request("GET", "/jobs", params=params)
        return [Job.from_json(j) for j in doc["jobs"]], doc.get("next_cursor")

    def stats(self) -> dict[str, Any]:
        """Counts by status and kind (``GET /stats``), as the server sends them."""
        _, doc, _ = self._http.request("GET", "/stats")
        return dict(doc)

    def _long(self, wait_ms: int | None) -> float:
        return self.timeout + (wait_ms or 0) / 1000
