"""How the worker claims, against a fake protocol whose answers can be held back: a job
whose handler returned makes room for another at once (its answer waiting for the server),
claims bring at least half the prefetch, and unacknowledged answers are bounded."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import pytest

import faena
import faena.worker
from faena.errors import api_error
from faena.protocol import Answer, Outcome

from conftest import eventually


class FakeServer:
    """Hands out ``n`` jobs of kind ``t``; ``answer`` waits for ``gate`` before recording."""

    def __init__(self, n: int) -> None:
        self.lock = threading.Lock()
        self.queue = deque(range(n))
        self.asked: list[int] = []  # each claim's max
        self.handed_out = 0
        self.acknowledged = 0
        self.outstanding: list[int] = []  # jobs claimed and not acknowledged, after each claim
        self.gate = threading.Event()

    def claim(self, worker: str, kinds: list[str], max_jobs: int, wait_ms: int) -> list[dict[str, Any]]:
        with self.lock:
            self.asked.append(max_jobs)
            take = [self.queue.popleft() for _ in range(min(max_jobs, len(self.queue)))]
            self.handed_out += len(take)
            self.outstanding.append(self.handed_out - self.acknowledged)
        if not take:
            time.sleep(wait_ms / 1000)
        return [
            {"id": f"j{i}", "kind": "t", "attempt": 1, "max_attempts": 3, "lease": 1, "params": {"i": i}}
            for i in take
        ]

    def heartbeat(self, job_id: str, lease: int, progress: Any, timeout: float) -> dict[str, Any]:
        return {"lease_expires_at": None, "cancel_requested": False}

    def answer(self, outcomes: list[Outcome]) -> list[Answer]:
        assert self.gate.wait(20), "the gate was never opened"
        with self.lock:
            self.acknowledged += len(outcomes)
        return [Answer(o.id, status="succeeded") for o in outcomes]


def use_fake(worker: faena.Worker, server: FakeServer) -> None:
    """The protocol is the one seam: everything above it (claims, executors, sender) is real,
    and nothing reaches the network (the URL is never contacted)."""
    worker._protocol = server  # type: ignore[assignment]
    worker._sender._protocol = server  # type: ignore[assignment]
    worker._heart._protocol = server  # type: ignore[assignment]


def worker_on(server: FakeServer, concurrency: int, prefetch: int) -> tuple[faena.Worker, list[int]]:
    worker = faena.Worker("http://127.0.0.1:9", concurrency=concurrency, prefetch=prefetch, claim_wait_ms=20)
    use_fake(worker, server)
    ran: list[int] = []

    @worker.kind("t")
    def handler(params: dict[str, int], ctx: faena.JobContext) -> int:
        ran.append(params["i"])
        return params["i"]

    return worker, ran


def test_handlers_go_on_while_their_answers_wait() -> None:
    server = FakeServer(20)
    worker, ran = worker_on(server, concurrency=2, prefetch=4)
    worker.start()
    try:
        # No answer is acknowledged, yet every job runs: room comes from handlers returning.
        eventually(lambda: len(ran) == 20, what="all 20 handlers run with no answer acknowledged")
        assert server.acknowledged == 0
        server.gate.set()
        eventually(lambda: worker.stats.succeeded == 20, what="the 20 answers acknowledged")
    finally:
        server.gate.set()
        worker.stop(grace_period=1.0, timeout=20)
    assert sorted(ran) == list(range(20))


def test_with_every_handler_busy_a_claim_waits_for_half_the_prefetch_of_room() -> None:
    server = FakeServer(100)
    server.gate.set()
    go = threading.Semaphore(0)
    returned: list[int] = []
    worker = faena.Worker("http://127.0.0.1:9", concurrency=2, prefetch=4, claim_wait_ms=20)
    use_fake(worker, server)

    @worker.kind("t")
    def handler(params: dict[str, int], ctx: faena.JobContext) -> int:
        assert go.acquire(timeout=20)
        returned.append(params["i"])
        return params["i"]

    worker.start()
    try:
        # The first claim asks for all it may hold: 2 running, 4 waiting for them.
        eventually(lambda: server.asked == [6], what="the first claim")
        for n in range(3):
            go.release()  # one job done: room for one, less than half the prefetch
            eventually(lambda: len(returned) == 2 * n + 1, what="a handler returned")
            go.release()  # two: now a claim, of both
            eventually(lambda: len(server.asked) == n + 2, what="a claim")
            assert server.asked[-1] == 2, server.asked
    finally:
        for _ in range(100):
            go.release()
        worker.stop(grace_period=1.0, timeout=20)


def test_unacknowledged_answers_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faena.worker, "MAX_OUTCOMES", 3)
    server = FakeServer(10)
    worker, ran = worker_on(server, concurrency=1, prefetch=0)
    worker.start()
    try:
        eventually(lambda: len(ran) >= 3, what="three handlers run")
        # Nothing can be awaited for "no more claims": a window in which an unbounded worker
        # would go on claiming (each claim and run takes microseconds here).
        time.sleep(0.3)
        assert len(ran) == 3 and server.handed_out == 3, (ran, server.asked)
        server.gate.set()
        eventually(lambda: worker.stats.succeeded == 10, what="all ten acknowledged")
    finally:
        server.gate.set()
        worker.stop(grace_period=1.0, timeout=20)
    assert max(server.outstanding) <= 3, server.outstanding


class ReclaimServer(FakeServer):
    """Job ``j``'s lease 1 is lost at its first heartbeat, and the job is claimed again with
    lease 2 while the first run's handler still runs."""

    def __init__(self) -> None:
        super().__init__(0)
        self.claims = [[1], [2]]
        self.gate.set()
        self.answered: list[tuple[str, int]] = []

    def claim(self, worker: str, kinds: list[str], max_jobs: int, wait_ms: int) -> list[dict[str, Any]]:
        with self.lock:
            leases = self.claims.pop(0) if self.claims else []
        if not leases:
            time.sleep(wait_ms / 1000)
        return [
            {
                "id": "j",
                "kind": "t",
                "attempt": lease,
                "max_attempts": 3,
                "lease": lease,
                "params": {},
                "lease_ms": 300,
                "deadline_in_ms": 60_000,
            }
            for lease in leases
        ]

    def heartbeat(self, job_id: str, lease: int, progress: Any, timeout: float) -> dict[str, Any]:
        if lease == 1:
            raise api_error(409, {"code": "stale_lease", "detail": "lost"})
        return {"lease_expires_at": None, "cancel_requested": False}

    def answer(self, outcomes: list[Outcome]) -> list[Answer]:
        with self.lock:
            self.answered += [(o.id, o.lease) for o in outcomes]
        return [Answer(o.id, status="succeeded") for o in outcomes]


def test_a_job_claimed_again_after_its_lease_was_lost_is_a_run_of_its_own() -> None:
    server = ReclaimServer()
    release = {1: threading.Event(), 2: threading.Event()}
    started: dict[int, faena.JobContext] = {}
    worker = faena.Worker("http://127.0.0.1:9", concurrency=2, prefetch=0, claim_wait_ms=20)
    use_fake(worker, server)

    @worker.kind("t")
    def handler(params: dict[str, Any], ctx: faena.JobContext) -> int:
        started[ctx.job.lease] = ctx
        assert release[ctx.job.lease].wait(20)
        return ctx.job.lease

    worker.start()
    try:
        eventually(lambda: sorted(started) == [1, 2], what="both runs of j started")
        eventually(lambda: started[1].cancelled.reason == "lost", what="the first lease lost")
        release[1].set()  # the first run, whose lease was lost, ends while the second runs
        eventually(lambda: worker.stats.lost == 1, what="the first run settled as lost")
        assert worker.running_jobs() == ["j"], "the second run was dropped with the first"
        release[2].set()
        eventually(lambda: worker.stats.succeeded == 1, what="the second run answered")
    finally:
        for event in release.values():
            event.set()
        worker.stop(grace_period=1.0, timeout=20)
    assert server.answered == [("j", 2)]
