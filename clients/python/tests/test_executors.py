"""Each executor runs jobs to exact results; progress reaches the server."""

from __future__ import annotations

import asyncio
import os
import threading

import faena

import handlers
from conftest import Cluster, eventually, primes_naive

RANGES = [(0, 10_000), (10_000, 20_000), (0, 100), (1_000_000, 1_002_000), (2, 3), (24, 28)]


def test_thread_executor_counts_primes(c: Cluster) -> None:
    worker = c.worker(concurrency=3)
    worker.kind("t_primes_thread")(handlers.count_primes)
    worker.start()
    with c.client() as client:
        jobs = [client.submit("t_primes_thread", {"start": a, "end": b}) for a, b in RANGES]
        done = [client.wait(j.id, timeout=30) for j in jobs]
    assert [j.status for j in done] == ["succeeded"] * len(RANGES)
    assert [j.result["count"] for j in done] == [primes_naive(a, b) for a, b in RANGES]
    assert done[0].result["count"] == 1229  # π(10^4)
    assert all(j.attempt == 1 and j.instance == f"worker:{worker.name}" for j in done)
    assert done[0].progress is not None and done[0].progress.done == done[0].progress.total == 10_000


def test_process_executor_counts_primes_in_reused_children(c: Cluster) -> None:
    worker = c.worker(concurrency=2)
    worker.kind("t_primes_process", executor="process")(handlers.count_primes)
    worker.start()
    with c.client() as client:
        jobs = [client.submit("t_primes_process", {"start": a, "end": b}) for a, b in RANGES * 2]
        done = [client.wait(j.id, timeout=60) for j in jobs]
    assert [j.status for j in done] == ["succeeded"] * len(jobs)
    assert [j.result["count"] for j in done] == [primes_naive(a, b) for a, b in RANGES * 2]
    pids = {j.result["pid"] for j in done}
    assert len(pids) <= 2, f"12 jobs on 2 reusable children ran in {len(pids)} processes"
    assert os.getpid() not in pids


def test_async_executor_runs_concurrently(c: Cluster) -> None:
    worker = c.worker(concurrency=4)
    active = []
    peak = [0]

    @worker.kind("t_fetch_async", executor="async")
    async def words(params: dict, ctx: object) -> dict:
        active.append(1)
        peak[0] = max(peak[0], len(active))
        await asyncio.sleep(0.3)
        active.pop()
        return {"words": len(params["text"].split()), "upper": params["text"].upper()}

    worker.start()
    texts = ["to be or not to be", "that is the question", "", "  a  b  "]
    with c.client() as client:
        jobs = [client.submit("t_fetch_async", {"text": t}) for t in texts]
        done = [client.wait(j.id, timeout=30) for j in jobs]
    assert [j.result for j in done] == [{"words": len(t.split()), "upper": t.upper()} for t in texts]
    assert peak[0] >= 2, "async handlers did not overlap"


def test_progress_is_sent_by_heartbeats(c: Cluster) -> None:
    worker = c.worker()
    release = threading.Event()

    @worker.kind("t_progress")
    def slow(params: dict, ctx: object) -> dict:
        ctx.progress(3, 10)  # type: ignore[attr-defined]
        release.wait(20)
        ctx.progress(10, 10)  # type: ignore[attr-defined]
        return {"ok": True}

    worker.start()
    with c.client() as client:
        job = client.submit("t_progress", {})
        seen = eventually(lambda: (j := client.get(job.id)).progress and j, what="progress 3/10")
        assert (seen.status, seen.progress.done, seen.progress.total) == ("running", 3, 10)
        release.set()
        final = client.wait(job.id, timeout=10)
    assert final.status == "succeeded" and final.result == {"ok": True}
    assert (final.progress.done, final.progress.total) == (10, 10)
    eventually(lambda: worker.stats.succeeded == 1, what="the worker counted its answer")
    assert worker.stats.claimed == 1


def test_worker_runs_concurrency_handlers_and_holds_prefetch_more(c: Cluster) -> None:
    worker = c.worker(concurrency=3, prefetch=2)
    release = threading.Event()
    lock = threading.Lock()
    active, peak = [0], [0]

    @worker.kind("t_bounded")
    def hold(params: dict, ctx: object) -> int:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        release.wait(20)
        with lock:
            active[0] -= 1
        return int(params["i"])

    with c.client() as client:
        items = client.submit_many([{"kind": "t_bounded", "params": {"i": i}} for i in range(10)])
        assert all(item.accepted for item in items)
        ids = [item.id for item in items]
        worker.start()
        eventually(lambda: len(worker.running_jobs()) == 5, what="five jobs held")
        eventually(lambda: active[0] == 3, what="three handlers running")
        running, _ = client.list(kind="t_bounded", status="running")
        assert len(running) == 5 and worker.stats.claimed == 5
        release.set()
        done = [client.wait(i, timeout=20) for i in ids]
    assert [j.result for j in done] == list(range(10))
    assert peak[0] == 3
    assert len(worker.running_jobs()) <= 5


def test_jobs_waiting_for_a_handler_are_handed_back_at_once_on_stop(c: Cluster) -> None:
    worker = c.worker(concurrency=1, prefetch=2, grace_period=20.0)
    started = threading.Event()
    release = threading.Event()

    @worker.kind("t_prefetch")
    def hold(params: dict, ctx: object) -> int:
        started.set()
        release.wait(20)
        return int(params["i"])

    with c.client() as client:
        ids = [client.submit("t_prefetch", {"i": i}).id for i in range(3)]
        worker.start()
        eventually(lambda: len(worker.running_jobs()) == 3, what="three jobs held")
        assert started.wait(10)
        stopper = threading.Thread(target=lambda: worker.stop(timeout=30))
        stopper.start()
        # The two waiting jobs are queued again while the running one is still in its grace.

        def two_queued() -> list[faena.Job] | None:
            queued, _ = client.list(kind="t_prefetch", status="queued")
            return queued if len(queued) == 2 else None

        queued = eventually(two_queued, what="two jobs handed back")
        assert all(j.attempt == 0 for j in queued), queued
        running, _ = client.list(kind="t_prefetch", status="running")
        assert len(running) == 1 and not release.is_set()
        release.set()
        stopper.join(30)
        finished = [client.get(i) for i in ids]
    assert sorted(j.status for j in finished) == ["queued", "queued", "succeeded"]
    assert worker.stats.handed_back == 2 and worker.stats.succeeded == 1


def test_a_job_whose_deadline_passes_while_it_waits_is_not_run(c: Cluster) -> None:
    worker = c.worker(concurrency=1, prefetch=1)
    release = threading.Event()
    ran: list[int] = []

    @worker.kind("t_waits")
    def hold(params: dict, ctx: object) -> int:
        ran.append(int(params["i"]))
        if params["i"] == 0:
            release.wait(20)
        return int(params["i"])

    with c.client() as client:
        first = client.submit("t_waits", {"i": 0}, timeout_ms=30_000)
        worker.start()
        eventually(lambda: ran == [0], what="the first job running")
        late = client.submit("t_waits", {"i": 1}, timeout_ms=300)
        eventually(lambda: len(worker.running_jobs()) == 2, what="the second job prefetched")
        # Its deadline passes while it waits behind the first: the server times it out.
        assert client.wait(late.id, timeout=10).status == "timed_out"
        release.set()
        assert client.wait(first.id, timeout=10).result == 0
        eventually(lambda: not worker.running_jobs(), what="both settled")
    assert ran == [0], "the timed-out job was run"


def test_claims_the_server_refuses_stop_the_worker(c: Cluster) -> None:
    worker = faena.Worker(c.worker_url, concurrency=1, claim_wait_ms=1000)

    @worker.kind("t_undeclared")
    def never(params: dict, ctx: object) -> None:
        raise AssertionError("no job of an undeclared kind can be claimed")

    stopped = threading.Event()
    raised: list[BaseException] = []

    def run() -> None:
        try:
            worker.run(install_signals=False)
        except BaseException as exc:  # noqa: BLE001 - what the test looks at
            raised.append(exc)
        stopped.set()

    threading.Thread(target=run, daemon=True).start()
    assert stopped.wait(15), "the worker kept claiming a kind the server refuses"
    assert len(raised) == 1 and isinstance(raised[0], faena.ApiError), raised
    assert raised[0].code == "invalid_field" and raised[0].field == "kinds[0]"
