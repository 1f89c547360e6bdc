#!/usr/bin/env python3
"""Fair claiming between API keys: key A queues 50,000 `sleep` jobs of 100 ms (64 run at a
time: over a minute of work), then key B submits one `sleep` of 0 ms. Prints how long B's
job waited in the queue (its started_at minus its created_at) and how many jobs were still
queued then, for each faena binary given (e.g. the commit before fair claiming, and this
one). Standard library only; only 127.0.0.1 is contacted.

    bench/fairness.py OLD_BINARY target/release/faena [--backlog 50000]
"""

import argparse
import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime

A = "alice-key-0123456789"
B = "bob-key-0123456789ab"


def call(base, path, key=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method="POST" if data else "GET")
    if data:
        req.add_header("content-type", "application/json")
    if key:
        req.add_header("authorization", f"Bearer {key}")
    with urllib.request.urlopen(req, timeout=120) as resp:
        return resp.read()


def at(job, field):
    return datetime.fromisoformat(job[field].replace("Z", "+00:00"))


def measure(binary, backlog, port):
    with tempfile.TemporaryDirectory() as scratch:
        server = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{port}", "--database-url", f"sqlite://{scratch}/f.db",
             "--api-keys", f"{A},{B}", "--max-io-jobs", "64"],
            env=dict(os.environ, RUST_LOG="warn"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    call(base, "/readyz")
                    break
                except OSError:
                    time.sleep(0.1)
            batch = {"jobs": [{"kind": "sleep", "params": {"ms": 100}} for _ in range(1000)]}
            for _ in range(backlog // 1000):
                call(base, "/jobs/batch", A, batch)
            job = json.loads(call(base, "/jobs", B, {"kind": "sleep", "params": {"ms": 0}}))
            while job["status"] in ("queued", "running"):
                job = json.loads(call(base, f"/jobs/{job['id']}?wait_ms=30000", B))
            metrics = call(base, "/metrics", A).decode()
            queued = next(float(l.split()[1]) for l in metrics.splitlines() if l.startswith("faena_jobs_queued "))
            return (at(job, "started_at") - at(job, "created_at")).total_seconds(), int(queued)
        finally:
            server.terminate()
            server.wait()


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
