"""How fast a finished job releases its dependents: submits a root `sleep` job and N `sleep(0)`
jobs that depend on it, waits for all, and prints how long after the root finished the first
and the last dependent started and finished (from the jobs' own timestamps).

    python3 bench/dependents.py --url http://127.0.0.1:8080 --n 1000
"""

import argparse
import concurrent.futures
import datetime
import json
import urllib.request


def call(url, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as resp:
        return json.load(resp)


def ts(s):
    return datetime.datetime.fromisoformat(s).timestamp()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--root-ms", type=int, default=3000)
    a = p.parse_args()
    root = call(f"{a.url}/jobs", "POST", {"kind": "sleep", "params": {"ms": a.root_ms}})
    body = {"kind": "sleep", "params": {"ms": 0}, "depends_on": [root["id"]]}
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        ids = list(pool.map(lambda _: call(f"{a.url}/jobs", "POST", body)["id"], range(a.n)))
        root = call(f"{a.url}/jobs/{root['id']}?wait_ms=60000")
        assert root["status"] == "succeeded", root
        jobs = list(pool.map(lambda i: call(f"{a.url}/jobs/{i}?wait_ms=60000"), ids))
    assert all(j["status"] == "succeeded" for j in jobs)
    end = ts(root["finished_at"])
    starts = sorted(ts(j["started_at"]) - end for j in jobs)
    finishes = sorted(ts(j["finished_at"]) - end for j in jobs)
    print(f"{a.n} dependents: first started {starts[0] * 1000:.0f} ms, last started "
          f"{starts[-1] * 1000:.0f} ms, last finished {finishes[-1] * 1000:.0f} ms "
          f"after the root finished")


main()
