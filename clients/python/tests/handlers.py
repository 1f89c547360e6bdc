"""Module-level handlers for the tests: the process executor needs importable functions."""

from __future__ import annotations

import os
import time
from typing import Any

import faena


def count_primes(params: dict[str, Any], ctx: faena.JobContext) -> dict[str, Any]:
    """Primes in [start, end) by trial division, reporting progress; stops when cancelled."""
    start, end = params["start"], params["end"]
    count = 0
    for n in range(start, end):
        if n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1)):
            count += 1
        if n % 1000 == 0:
            ctx.progress(n - start, end - start)
            ctx.raise_if_cancelled()
    ctx.progress(end - start, end - start)
    return {"count": count, "pid": os.getpid(), "attempt": ctx.job.attempt}


def spin_ignoring_cancel(params: dict[str, Any], ctx: faena.JobContext) -> dict[str, Any]:
    """Burns CPU forever, never looking at ``ctx.cancelled``; writes its pid to ``pid_file``."""
    with open(params["pid_file"], "w") as f:
        f.write(str(os.getpid()))
    x = 0
    while True:
        x = (x * 31 + 7) % 1_000_003


def wait_for_cancel(params: dict[str, Any], ctx: faena.JobContext) -> dict[str, Any]:
    """Waits on ``ctx.cancelled`` (a cooperative process handler), then raises ``Cancelled``."""
    ctx.cancelled.wait(params.get("max_s", 30))
    ctx.raise_if_cancelled()
    return {"not": "cancelled"}


def sleep_then_echo(params: dict[str, Any], ctx: faena.JobContext) -> dict[str, Any]:
    """Sleeps ``seconds``, then answers who ran it (``TEST_WORKER_NAME``) and which attempt."""
    time.sleep(params.get("seconds", 0))
    worker = os.environ.get("TEST_WORKER_NAME", "")
    return {"echo": params.get("value"), "worker": worker, "attempt": ctx.job.attempt}
