"""Results and failures: retryable ones use up the attempts, final ones end the job at once."""

from __future__ import annotations

import threading

import faena

from conftest import Cluster


class QuotaExceeded(Exception):
    """A failure that retrying cannot fix."""

    retryable = False


def test_retryable_failures_use_every_attempt_then_a_retry_can_succeed(c: Cluster) -> None:
    worker = c.worker()

    @worker.kind("t_retry")
    def flaky(params: dict, ctx: faena.JobContext) -> dict:
        if ctx.job.attempt < params["succeed_on"]:
            raise ValueError(f"attempt {ctx.job.attempt} of {ctx.job.max_attempts}")
        return {"attempt": ctx.job.attempt}

    worker.start()
    with c.client() as client:
        never = client.submit("t_retry", {"succeed_on": 99}, max_attempts=3)
        second = client.submit("t_retry", {"succeed_on": 2}, max_attempts=3)
        never, second = client.wait(never.id, timeout=30), client.wait(second.id, timeout=30)
    assert (never.status, never.attempt, never.max_attempts) == ("failed", 3, 3)
    assert never.error == faena.JobError("worker_failed", "ValueError: attempt 3 of 3")
    assert [(e.attempt, e.code, e.message) for e in never.errors] == [
        (n, "worker_failed", f"ValueError: attempt {n} of 3") for n in (1, 2, 3)
    ]
    assert (second.status, second.attempt, second.result) == ("succeeded", 2, {"attempt": 2})
    assert [e.message for e in second.errors] == ["ValueError: attempt 1 of 3"]


def test_final_failures_end_the_job_after_one_attempt(c: Cluster) -> None:
    worker = c.worker()

    @worker.kind("t_fatal")
    def fatal(params: dict, ctx: faena.JobContext) -> dict:
        if params["how"] == "fatal":
            raise faena.FatalError("bad input: no such image")
        raise QuotaExceeded("quota of 10 reached")

    @worker.kind("t_notjson")
    def not_json(params: dict, ctx: faena.JobContext) -> object:
        return {"when": {1, 2}} if params["how"] == "set" else float("nan")

    @worker.kind("t_weird")
    def weird(params: dict, ctx: faena.JobContext) -> dict:
        raise type("9 Bad-Näme!", (Exception,), {})("odd \0 name")

    worker.start()
    with c.client() as client:
        ids = [
            client.submit("t_fatal", {"how": "fatal"}, max_attempts=5).id,
            client.submit("t_fatal", {"how": "quota"}, max_attempts=5).id,
            client.submit("t_notjson", {"how": "set"}, max_attempts=5).id,
            client.submit("t_notjson", {"how": "nan"}, max_attempts=5).id,
            client.submit("t_weird", {}, max_attempts=1).id,
        ]
        jobs = [client.wait(i, timeout=30) for i in ids]
    assert [(j.status, j.attempt) for j in jobs] == [("failed", 1)] * 5
    assert jobs[0].error.message == "FatalError: bad input: no such image"
    assert jobs[1].error.message == "QuotaExceeded: quota of 10 reached"
    for job in jobs[2:4]:
        assert job.error.message.startswith("InvalidResult: the handler returned a value that is not JSON"), (
            job.error
        )
    assert "set" in jobs[2].error.message and "float" in jobs[3].error.message
    assert jobs[4].error.message == "E9_Bad_N_me_: odd  name"


def test_results_of_any_json_come_back_exactly(c: Cluster) -> None:
    worker = c.worker()
    worker.kind("t_notjson")(lambda params, ctx: params["value"])
    worker.start()
    values = [42, "text", None, [1, "two", {"3": 4.5}], {"nul": "a\u0000b", "emoji": "ñ😀", "big": 2**62}]
    with c.client() as client:
        ids = [client.submit("t_notjson", {"value": v}).id for v in values]
        jobs = [client.wait(i, timeout=10) for i in ids]
    assert [(j.status, j.result) for j in jobs] == [("succeeded", v) for v in values]


def test_a_result_over_the_body_limit_fails_its_job_alone(c: Cluster) -> None:
    worker = c.worker(concurrency=4)
    gate = threading.Barrier(4, timeout=10)  # four answers ready together: one batch

    @worker.kind("t_big")
    def big(params: dict, ctx: faena.JobContext) -> dict:
        gate.wait()
        return {"blob": "x" * params["size"]}

    worker.start()
    sizes = [10, 2_000_000, 20, 30]  # the server takes bodies up to 1 MiB
    with c.client() as client:
        ids = [client.submit("t_big", {"size": s}).id for s in sizes]
        jobs = [client.wait(i, timeout=20) for i in ids]
    assert [j.status for j in jobs] == ["succeeded", "failed", "succeeded", "succeeded"]
    assert [len(j.result["blob"]) for j in jobs if j.result] == [10, 20, 30]
    assert jobs[1].attempt == 1 and jobs[1].error.message.startswith("ResultRefused: "), jobs[1].error
    assert "payload_too_large" in jobs[1].error.message
