"""The sender alone, against a fake protocol: answers the server could not record (a 5xx
problem in their slot) go again after a pause; the others are settled once."""

from __future__ import annotations

import threading
import time
from typing import Any

from faena._runtime import Run, Sender
from faena.context import CancelFlag
from faena.errors import api_error
from faena.models import JobInfo
from faena.protocol import Answer, Outcome


class FlakyStore:
    """Answers the first request with a 503 problem for job ``b``; then records everything."""

    def __init__(self) -> None:
        self.requests: list[list[str]] = []

    def answer(self, outcomes: list[Outcome]) -> list[Answer]:
        self.requests.append([o.id for o in outcomes])
        first = len(self.requests) == 1
        problem = {"status": 503, "code": "store_unavailable", "detail": "down"}
        return [
            Answer(o.id, error=api_error(503, problem))
            if first and o.id == "b"
            else Answer(o.id, status="succeeded")
            for o in outcomes
        ]


def run(job_id: str) -> Run:
    info = JobInfo(job_id, "k", 1, 3, None, 1)
    return Run(info, {}, CancelFlag(None), None, 10.0, time.monotonic() + 10)


def test_an_answer_the_store_could_not_record_is_sent_again_and_settled_once() -> None:
    store = FlakyStore()
    settled: list[tuple[str, Any]] = []
    lock = threading.Lock()
    done = threading.Event()

    def on_answer(r: Run, answer: Answer) -> None:
        with lock:
            settled.append((r.info.id, answer.status))
            if len(settled) == 2:
                done.set()

    def finish(r: Run, how: str) -> None:
        raise AssertionError(f"{r.info.id} settled as {how}")

    sender = Sender(store, finish, on_answer)  # type: ignore[arg-type]
    for job_id in ("a", "b"):
        sender.put(run(job_id), Outcome(job_id, 1, result={}))
    sender.start()
    assert done.wait(10), settled
    assert sender.drain(timeout=5)
    assert sorted(settled) == [("a", "succeeded"), ("b", "succeeded")]
    assert store.requests == [["a", "b"], ["b"]]
