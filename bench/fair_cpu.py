#!/usr/bin/env python3
"""Small CPU jobs beside a big one: does a job's latency follow its own work?

For each faena binary given (two for an A/B, alternating runs), starts it on a fresh SQLite
file on 127.0.0.1 and, per run:

  1. runs a big `count_primes` window (a sieve of BIG numbers from 10^15) alone: its run time
     (started_at to finished_at, as the job reports it);
  2. runs it again and, while it runs, submits a `factorial` of [10] every 250 ms, each
     long-polled to its end: each small job's latency end to end (POST to final answer), and
     the big job's run time beside them.

Prints per run the big job's time alone and beside, their ratio, and the small jobs' median
and worst latency. Standard library only; only 127.0.0.1 is contacted.

    bench/fair_cpu.py target/release/faena [OTHER_BINARY] [--runs 3] [--big 30000000000]
"""

import argparse
import statistics
import sys
import threading
import time
from datetime import datetime

from serve import faena, json_of

START = 10**15


def final(base, job_id):
    while True:
        job = json_of(f"{base}/jobs/{job_id}?wait_ms=30000")
        if job["status"] not in ("queued", "running"):
            return job


def run_time(job):
    t = [datetime.fromisoformat(job[k].replace("Z", "+00:00")) for k in ("started_at", "finished_at")]
    return (t[1] - t[0]).total_seconds()


def big_job(base, big):
    body = {"kind": "count_primes", "params": {"start": START, "end": START + big}, "timeout_ms": 600000}
    return json_of(f"{base}/jobs", body)["id"]


def small_latencies(base, stop):
    """Submits factorial [10] every 250 ms until `stop` is set; each one's latency (s)."""
    latencies = []
    while not stop.is_set():
        began = time.perf_counter()
        job = json_of(f"{base}/jobs?wait_ms=30000", {"kind": "factorial", "params": {"numbers": [10]}})
        if job["status"] in ("queued", "running"):
            job = final(base, job["id"])
        assert job["status"] == "succeeded", job
        assert job["result"]["results"][0]["digits"] == 7, job  # 10! = 3628800
        latencies.append(time.perf_counter() - began)
        time.sleep(max(0.0, 0.25 - (time.perf_counter() - began)))
    return latencies


def measure(binary, big, port):
    with faena(binary, port) as base:
        alone = run_time(final(base, big_job(base, big)))
        big_id = big_job(base, big)
        while json_of(f"{base}/jobs/{big_id}")["status"] == "queued":
            time.sleep(0.01)
        stop = threading.Event()
        result = {}
        thread = threading.Thread(target=lambda: result.update(lat=small_latencies(base, stop)))
        thread.start()
        beside = run_time(final(base, big_id))
        stop.set()
        thread.join()
        return alone, beside, result["lat"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binaries", nargs="+")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--big", type=int, default=30_000_000_000, help="numbers the big window sieves")
    parser.add_argument("--port", type=int, default=18093)
    args = parser.parse_args()
    print(f"big job: count_primes [10^15, 10^15 + {args.big:.0e}); small jobs: factorial [10] every 250 ms")
    for run in range(args.runs):
        for binary in args.binaries:
            alone, beside, lat = measure(binary, args.big, args.port)
            lat_ms = sorted(x * 1000 for x in lat)
            print(
                f"run {run + 1} {binary}: big alone {alone:.2f} s, beside {beside:.2f} s "
                f"({beside / alone:.3f}); {len(lat_ms)} small jobs: median {statistics.median(lat_ms):.1f} ms, "
                f"worst {lat_ms[-1]:.1f} ms",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
