"""Cancels and deadlines reach running handlers; handlers that ignore them are terminated."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

import faena

import handlers
from conftest import Cluster, eventually

HEARTBEAT = 0.2
MARGIN = 0.4  # scheduling on a busy 2-core machine


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_running(client: faena.Client, job_id: str) -> faena.Job:
    return eventually(lambda: (j := client.get(job_id)).status == "running" and j, what="running")


@pytest.mark.parametrize("executor", ["thread", "async", "process"])
def test_cancel_reaches_a_running_handler_within_a_heartbeat(c: Cluster, executor: str) -> None:
    worker = c.worker(heartbeat_interval=HEARTBEAT)
    seen: list[float] = []
    started = threading.Event()
    if executor == "thread":

        @worker.kind("t_cancel_thread")
        def loop(params: dict, ctx: faena.JobContext) -> dict:
            started.set()
            while not ctx.cancelled.is_set():
                time.sleep(0.005)
            seen.append(time.monotonic())
            ctx.raise_if_cancelled()
            return {}

    elif executor == "async":

        @worker.kind("t_cancel_async", executor="async")
        async def wait(params: dict, ctx: faena.JobContext) -> dict:
            started.set()
            await ctx.wait_cancelled()
            seen.append(time.monotonic())
            raise faena.Cancelled(ctx.cancelled.reason)

    else:
        worker.kind("t_cancel_process", executor="process")(handlers.wait_for_cancel)
    worker.start()
    with c.client() as client:
        job = client.submit(f"t_cancel_{executor}", {})
        _wait_running(client, job.id)
        if executor != "process":
            assert started.wait(5)
        t0 = time.monotonic()
        client.cancel(job.id)
        done = client.wait(job.id, timeout=10)
        ended = time.monotonic()
    assert done.status == "cancelled", done
    if executor != "process":  # the child's own clock is not this process's
        assert seen, "the handler never saw its cancel"
        assert seen[0] - t0 < HEARTBEAT + MARGIN, f"cancel seen after {seen[0] - t0:.3f} s"
    # the process handler raises as soon as its flag is set, no termination needed
    assert ended - t0 < HEARTBEAT + MARGIN + 0.5, f"job cancelled after {ended - t0:.3f} s"
    eventually(lambda: worker.stats.failed == 1, what="the failure acknowledged")


def test_process_handler_ignoring_cancel_is_terminated(c: Cluster, tmp_path: Path) -> None:
    worker = c.worker(concurrency=1, heartbeat_interval=HEARTBEAT, cancel_grace=0.3)
    worker.kind("t_cancel_process", executor="process")(handlers.spin_ignoring_cancel)
    pid_file = tmp_path / "pid"
    worker.start()
    with c.client() as client:
        job = client.submit("t_cancel_process", {"pid_file": str(pid_file)})
        pid = int(eventually(lambda: pid_file.exists() and pid_file.read_text(), what="pid file"))
        assert _alive(pid)
        t0 = time.monotonic()
        client.cancel(job.id)
        done = client.wait(job.id, timeout=10)
        took = time.monotonic() - t0
    assert done.status == "cancelled" and done.attempt == 1
    assert "terminated" in done.errors[-1].message, done.errors
    assert took < HEARTBEAT + 0.3 + 1.0 + MARGIN, f"{took:.3f} s"
    eventually(lambda: not _alive(pid), timeout=3, what="child terminated")


def test_deadline_times_out_the_job_and_the_handler_sees_it(c: Cluster, tmp_path: Path) -> None:
    worker = c.worker(concurrency=2, heartbeat_interval=HEARTBEAT)
    reasons: list[str | None] = []

    @worker.kind("t_deadline_thread")
    def loop(params: dict, ctx: faena.JobContext) -> dict:
        ctx.cancelled.wait(30)
        reasons.append(ctx.cancelled.reason)
        return {"finished": "too late"}

    worker.kind("t_deadline_process", executor="process")(handlers.spin_ignoring_cancel)
    worker.start()
    pid_file = tmp_path / "pid"
    with c.client() as client:
        t0 = time.monotonic()
        a = client.submit("t_deadline_thread", {}, timeout_ms=500)
        b = client.submit("t_deadline_process", {"pid_file": str(pid_file)}, timeout_ms=1000)
        a, b = client.wait(a.id, timeout=10), client.wait(b.id, timeout=10)
        pid = int(pid_file.read_text())
        eventually(lambda: not _alive(pid), timeout=3, what="the CPU handler terminated at its deadline")
        killed_after = time.monotonic() - t0
        assert (a.status, a.result) == ("timed_out", None)
        assert (b.status, b.result) == ("timed_out", None)
        assert a.error.code == b.error.code == "timed_out"
        assert reasons == ["deadline"]
        assert killed_after < 1.0 + 1.5, killed_after
        eventually(lambda: worker.stats.lost == 2, what="both answers dropped")
        # the terminated child was replaced: the process executor still runs jobs
        again = client.submit("t_deadline_process", {"pid_file": str(tmp_path / "again")}, timeout_ms=300)
        assert client.wait(again.id, timeout=10).status == "timed_out"
        assert int((tmp_path / "again").read_text()) != pid


def test_late_completion_is_refused(c: Cluster) -> None:
    with c.client() as client, c.raw() as raw:
        job = client.submit("t_late", {"n": 1}, timeout_ms=300)
        claimed = raw.post(
            "/workers/claim", json={"worker": "late", "kinds": ["t_late"], "wait_ms": 5000}
        ).json()["jobs"]
        assert [j["id"] for j in claimed] == [job.id]
        lease = claimed[0]["lease"]
        time.sleep(0.45)  # past the deadline on purpose: nothing to wait for but time
        late = raw.post(f"/jobs/{job.id}/complete", json={"lease": lease, "result": {"late": True}})
        assert late.status_code == 409, late.text
        assert late.json()["code"] in ("deadline_passed", "stale_lease")
        final = client.get(job.id)
        assert (final.status, final.result, final.error.code) == ("timed_out", None, "timed_out")
