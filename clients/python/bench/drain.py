"""How fast one Python worker drains N no-op jobs.

Submits N jobs of the worker kind ``noop`` (``POST /jobs/batch``, 1000 a request), then starts
a ``faena.Worker`` (thread executor, concurrency C) and times from its start until its own
counter has N results acknowledged; then checks with ``GET /stats`` that the server counts
N succeeded ``noop`` jobs, and prints jobs/s.

Against a running server (started with ``--worker-kinds noop``, and no other worker of it)::

    python bench/drain.py --url http://127.0.0.1:8080 --jobs 10000 --concurrency 4

Or let it start the server itself, on a fresh SQLite store in a temp dir::

    python bench/drain.py --bin ../../target/release/faena --jobs 10000 --concurrency 4
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import faena
from faena.testing import Server, sqlite_url


def noop(params: Any, ctx: faena.JobContext) -> dict[str, Any]:
    return {}


def server_count(client: faena.Client) -> int:
    kinds = client.stats().get("kinds", {})
    return int(kinds.get("noop", {}).get("succeeded", 0))


def drain(url: str, jobs: int, concurrency: int, prefetch: int | None) -> float:
    """Submits, drains and checks; returns jobs/s."""
    with faena.Client(url, timeout=60) as client:
        before = server_count(client)
        t0 = time.perf_counter()
        items = client.submit_many(faena.JobSpec("noop", {"i": i}) for i in range(jobs))
        refused = [i.error for i in items if not i.accepted]
        if refused:
            raise SystemExit(f"{len(refused)} jobs refused, e.g. {refused[0]}")
        print(f"submitted {jobs} jobs in {time.perf_counter() - t0:.2f} s")
        worker = faena.Worker(
            url, concurrency=concurrency, prefetch=prefetch, name="drain", claim_wait_ms=1000
        )
        worker.kind("noop")(noop)
        start = time.perf_counter()
        worker.start()
        give_up = time.monotonic() + 600
        while worker.stats.succeeded < jobs:
            if worker.stats.lost or worker.stats.failed or time.monotonic() > give_up:
                worker.stop(grace_period=0.0)
                raise SystemExit(f"the drain did not complete: {worker.stats}")
            time.sleep(0.005)
        elapsed = time.perf_counter() - start
        worker.stop(grace_period=1.0)
        deadline = time.monotonic() + 20  # /stats is cached for up to a second or more
        while (counted := server_count(client) - before) < jobs and time.monotonic() < deadline:
            time.sleep(0.25)
        if counted != jobs:
            raise SystemExit(f"the server counts {counted} succeeded noop jobs, not {jobs}")
        if worker.stats.lost or worker.stats.failed:
            raise SystemExit(f"unexpected outcomes: {worker.stats}")
    rate = jobs / elapsed
    print(
        f"drained {jobs} noop jobs with concurrency {concurrency}, prefetch {worker.prefetch}"
        f" in {elapsed:.2f} s: {rate:,.0f} jobs/s"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running server (with --worker-kinds noop)")
    where.add_argument("--bin", help="a faena binary to start on a temp SQLite store")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--prefetch", type=int, default=None, help="default: the concurrency")
    parser.add_argument("--sqlite-synchronous", default="full", choices=["full", "normal"], help="with --bin")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.url:
        if not args.url.startswith(("http://127.0.0.1", "http://localhost")):
            raise SystemExit("loopback servers only")
        drain(args.url, args.jobs, args.concurrency, args.prefetch)
        return
    with tempfile.TemporaryDirectory(prefix="faena-drain-") as tmp:
        server = Server(
            sqlite_url(tmp),
            ["--worker-kinds", "noop", "--max-queued-jobs", str(max(100_000, args.jobs * 2))]
            + ["--sqlite-synchronous", args.sqlite_synchronous],
            binary=args.bin,
            log_path=Path(tmp) / "server.log",
        )
        with server:
            drain(server.url, args.jobs, args.concurrency, args.prefetch)


if __name__ == "__main__":
    main()
