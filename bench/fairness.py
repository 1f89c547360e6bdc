#!/usr/bin/env python3
"""Fair claiming between API keys: key A queues 50,000 `sleep` jobs of 100 ms (64 run at a
time: over a minute of work), then key B submits one `sleep` of 0 ms. Prints how long B's
job waited in the queue (its started_at minus its created_at) and how many jobs were still
queued then, for each faena binary given (e.g. the commit before fair claiming, and this
one). Standard library only; only 127.0.0.1 is contacted.

    bench/fairness.py OLD_BINARY target/release/faena [--backlog 50000]
"""

import argparse
from datetime import datetime

from serve import call, faena, json_of

A = "alice-key-0123456789"
B = "bob-key-0123456789ab"


def at(job, field):
    return datetime.fromisoformat(job[field].replace("Z", "+00:00"))


def measure(binary, backlog, port):
    with faena(binary, port, ["--api-keys", f"{A},{B}", "--max-io-jobs", "64"]) as base:
        batch = {"jobs": [{"kind": "sleep", "params": {"ms": 100}} for _ in range(1000)]}
        for _ in range(backlog // 1000):
            json_of(f"{base}/jobs/batch", batch, A)
        job = json_of(f"{base}/jobs", {"kind": "sleep", "params": {"ms": 0}}, B)
        while job["status"] in ("queued", "running"):
            job = json_of(f"{base}/jobs/{job['id']}?wait_ms=30000", key=B)
        metrics = call(f"{base}/metrics", key=A)[1].decode()
        queued = next(float(l.split()[1]) for l in metrics.splitlines() if l.startswith("faena_jobs_queued "))
        return (at(job, "started_at") - at(job, "created_at")).total_seconds(), int(queued)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binaries", nargs="+")
    parser.add_argument("--backlog", type=int, default=50_000)
    parser.add_argument("--port", type=int, default=18095)
    args = parser.parse_args()
    for binary in args.binaries:
        waited, queued = measure(binary, args.backlog, args.port)
        print(f"{binary}: B's job waited {waited * 1000:.0f} ms; {queued} jobs still queued when it ended", flush=True)


if __name__ == "__main__":
    main()
