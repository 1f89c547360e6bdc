"""Workers that die or are told to stop: their jobs go to another worker, run once to the end."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import faena

from conftest import Cluster, eventually

HERE = Path(__file__).parent
LEASE = 1.0  # --worker-lease-ms of the test servers


def _spawn(c: Cluster, kind: str, name: str, grace: float = 10.0) -> subprocess.Popen[bytes]:
    log = open(c.tmp / f"{name}.log", "wb")
    return subprocess.Popen(
        [sys.executable, str(HERE / "worker_script.py"), c.worker_url, kind, name, str(grace)],
        cwd=HERE,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _running_on(client: faena.Client, job_id: str, name: str) -> faena.Job | None:
    job = client.get(job_id)
    return job if job.status == "running" and job.instance == f"worker:{name}" else None


def _echo_worker(c: Cluster, kind: str, name: str) -> faena.Worker:
    worker = c.worker(name=name)
    worker.kind(kind)(
        lambda params, ctx: {"echo": params["value"], "worker": name, "attempt": ctx.job.attempt}
    )
    return worker.start()


def test_sigkilled_worker_job_is_run_again_by_another_after_the_lease(c: Cluster) -> None:
    proc = _spawn(c, "t_killed", "doomed")
    try:
        with c.client() as client:
            job = client.submit("t_killed", {"value": 7, "seconds": 60})
            eventually(lambda: _running_on(client, job.id, "doomed"), timeout=15, what="running on doomed")
            proc.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            proc.wait(5)
            rescuer = _echo_worker(c, "t_killed", "rescuer")
            done = client.wait(job.id, timeout=20)
            took = time.monotonic() - killed_at
    finally:
        proc.kill()
    assert (done.status, done.attempt, done.instance) == ("succeeded", 2, "worker:rescuer")
    assert done.result == {"echo": 7, "worker": "rescuer", "attempt": 2}
    assert [(e.attempt, e.code, e.instance) for e in done.errors] == [(1, "interrupted", "worker:doomed")]
    assert took < LEASE + 2.0, f"re-run {took:.2f} s after the kill"
    eventually(lambda: rescuer.stats.succeeded == 1, what="one answer from the rescuer")
    assert rescuer.stats.claimed == 1


def test_sigterm_finishes_short_jobs_and_hands_back_long_ones(c: Cluster) -> None:
    proc = _spawn(c, "t_termed", "leaving", grace=1.5)
    try:
        with c.client() as client:
            long = client.submit("t_termed", {"value": "long", "seconds": 60})
            short = client.submit("t_termed", {"value": "short", "seconds": 0.8})
            for job in (long, short):
                eventually(
                    lambda: _running_on(client, job.id, "leaving"), timeout=15, what="running on leaving"
                )
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
            exited = time.monotonic() - t0
            handed = client.get(long.id)
            assert (handed.status, handed.attempt, handed.errors) == ("queued", 0, ())  # uncounted
            short_done = client.wait(short.id, timeout=5)
            _echo_worker(c, "t_termed", "successor")
            long_done = client.wait(long.id, timeout=10)
    finally:
        proc.kill()
    assert 1.4 < exited < 5.0, f"exited {exited:.2f} s after SIGTERM"
    assert (short_done.status, short_done.attempt, short_done.instance) == ("succeeded", 1, "worker:leaving")
    assert short_done.result == {"echo": "short", "worker": "leaving", "attempt": 1}
    assert (long_done.status, long_done.attempt, long_done.instance) == ("succeeded", 1, "worker:successor")
    assert long_done.result == {"echo": "long", "worker": "successor", "attempt": 1}
    assert long_done.errors == ()
    log = (c.tmp / "leaving.log").read_text()
    assert "handing it back" in log and "handed_back=1" in log, log


def test_stop_cuts_a_waiting_claim_and_the_server_keeps_nothing_for_it(c: Cluster) -> None:
    idle = c.worker(name="idle", claim_wait_ms=20_000)
    idle.kind("t_killed")(lambda params, ctx: {"worker": "idle"})
    idle.start()
    time.sleep(0.3)  # let its claim reach the server and wait there: nothing to poll for
    t0 = time.monotonic()
    idle.stop(grace_period=1.0)
    assert time.monotonic() - t0 < 1.0, "stop waited for the long-poll"
    c.workers.remove(idle)
    with c.client() as client:
        job = client.submit("t_killed", {"value": 1})
        _echo_worker(c, "t_killed", "next")
        done = client.wait(job.id, timeout=10)
    assert (done.status, done.attempt, done.instance, done.errors) == ("succeeded", 1, "worker:next", ())
