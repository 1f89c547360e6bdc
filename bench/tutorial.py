#!/usr/bin/env python3
"""The tutorial's two CPU jobs, done by a running faena: primes in [0, 1e6) as four ranges of
250,000 (submitted together, then long-polled) and the digits of 50000!..80000! (one job).
Prints the wall time of each from the first submission to the last answer, and the results.
Standard library only; talks to 127.0.0.1 only.

    python3 bench/tutorial.py --url http://127.0.0.1:8080 --runs 3
"""
import argparse
import json
import time
import urllib.request


def call(url, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.load(resp)


def run(base, jobs):
    t0 = time.perf_counter()
    ids = [call(f"{base}/jobs", "POST", job)["id"] for job in jobs]
    done = []
    for job_id in ids:
        job = call(f"{base}/jobs/{job_id}?wait_ms=60000")
        while job["status"] in ("queued", "running"):
            job = call(f"{base}/jobs/{job_id}?wait_ms=60000")
        done.append(job)
    return time.perf_counter() - t0, done


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    assert a.url.startswith(("http://127.0.0.1", "http://localhost")), "loopback only"
    primes = [{"kind": "count_primes", "params": {"start": s, "end": s + 250_000}}
              for s in range(0, 1_000_000, 250_000)]
    factorials = [{"kind": "factorial", "params": {"numbers": [50000, 60000, 70000, 80000]}}]
    for _ in range(a.runs):
        wall, done = run(a.url, primes)
        counts = [j["result"]["count"] for j in done]
        print(f"faena primes [0,1e6) 4 x 250k: {wall:.3f} s, counts {counts}, total {sum(counts)}")
        wall, done = run(a.url, factorials)
        digits = [r["digits"] for r in done[0]["result"]["results"]]
        print(f"faena factorial 50000..80000:  {wall:.3f} s, digits {digits}")


if __name__ == "__main__":
    main()
