"""The worker rides out a server that is not there yet, or goes away and comes back."""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

import pytest

import faena
from faena.testing import Server, sqlite_url

from conftest import SERVER_ARGS, eventually


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_worker_waits_for_the_server_and_keeps_its_answers_across_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="faena.worker")
    port = _free_port()
    args = [a if a != "1000" else "10000" for a in SERVER_ARGS]  # a lease that outlives the restart
    assert args[args.index("--worker-lease-ms") + 1] == "10000"
    server = Server(sqlite_url(tmp_path), args, log_path=tmp_path / "server.log", listen=f"127.0.0.1:{port}")
    release = threading.Event()
    worker = faena.Worker(
        f"http://127.0.0.1:{port}", concurrency=1, heartbeat_interval=0.2, claim_wait_ms=2000, http_timeout=2
    )

    @worker.kind("t_many")
    def hold(params: dict, ctx: faena.JobContext) -> dict:
        release.wait(30)
        return {"n": params["n"], "attempt": ctx.job.attempt}

    worker.start()  # nothing listens yet: claims fail and back off
    try:
        eventually(lambda: "claim failed" in caplog.text, what="a claim failed")
        server.start()
        with faena.Client(server.url) as client:
            job = client.submit("t_many", {"n": 5})
            eventually(lambda: client.get(job.id).status == "running", what="claimed once the server is up")
        server.stop()  # the server goes away while the handler runs ...
        release.set()
        eventually(lambda: "sending 1 answers failed" in caplog.text, what="the answer failed to go out")
        server.start()  # ... and comes back on the same port and store
        with faena.Client(server.url) as client:
            done = client.wait(job.id, timeout=20)
        assert (done.status, done.result, done.attempt, done.errors) == (
            "succeeded",
            {"n": 5, "attempt": 1},
            1,
            (),
        )
        eventually(lambda: worker.stats.succeeded == 1, what="the answer acknowledged")
        assert worker._thread is not None and worker._thread.is_alive()
    finally:
        worker.stop(grace_period=0.0, timeout=20)
        server.stop()
