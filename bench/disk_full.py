#!/usr/bin/env python3
"""A full disk under SQLite, as an operator would meet it: faena's database on a tmpfs of
8 MB (mounted here: needs root), 16 clients submitting `sleep` jobs until 2,000 answers
arrived, the tmpfs filled to the last byte by another file after the first 200. Counts the answers by
status and code, shows /readyz and the storage metrics while full, then deletes the filler
and measures how long until /readyz answers 200 again, and checks that every job answered
202 is in the store and ran. Standard library only; only 127.0.0.1 is contacted.

    sudo bench/disk_full.py target/release/faena
"""

import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

from serve import call, faena

PORT = 18094
BASE = f"http://127.0.0.1:{PORT}"


def request(path, body=None):
    return call(BASE + path, body, timeout=30)


def fill(path):
    with open(path, "wb", buffering=0) as f:
        for chunk in (b"\x5a" * 65536, b"\x5a"):
            try:
                while f.write(chunk):
                    pass
            except OSError:
                pass


def main():
    binary = sys.argv[1]
    mnt = tempfile.mkdtemp()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt], check=True)
    log_path = os.path.join(tempfile.gettempdir(), f"disk_full_faena_{os.getpid()}.log")
    os.environ.setdefault("BENCH_RUST_LOG", "info")
    try:
        with open(log_path, "w") as log, faena(binary, PORT, database=f"sqlite://{mnt}/f.db", log=log):
            run(mnt)
        with open(log_path) as log:
            text = log.read()
        print("log lines: no room", text.count("has no room to write"), "/ room again", text.count("room to write again"),
              "/ internal errors", text.count("internal error"))
    finally:
        subprocess.run(["umount", "-l", mnt])
        os.remove(log_path)


def run(mnt):
    answers = collections.Counter()
    accepted = []
    lock = threading.Lock()
    filled = threading.Event()

    def client():
        while True:
            with lock:
                if sum(answers.values()) >= 2000:
                    return
            status, body = request("/jobs", {"kind": "sleep", "params": {"ms": 0}})
            with lock:
                code = json.loads(body).get("code", "") if status != 202 else ""
                answers[(status, code)] += 1
                if status == 202:
                    accepted.append(json.loads(body)["id"])
                if sum(answers.values()) >= 200 and not filled.is_set():
                    filled.set()
                    fill(os.path.join(mnt, "filler"))

    threads = [threading.Thread(target=client) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("answers:", dict(answers))
    print("/readyz while full:", request("/readyz")[0])
    metrics = request("/metrics")[1].decode()
    print("\n".join(line for line in metrics.splitlines() if line.startswith("faena_storage")))
    os.remove(os.path.join(mnt, "filler"))
    freed = time.monotonic()
    while request("/readyz")[0] != 200:
        time.sleep(0.05)
    print(f"ready again {time.monotonic() - freed:.2f} s after the filler was deleted")
    lost = 0
    for job_id in accepted:
        while True:
            status, body = request(f"/jobs/{job_id}?wait_ms=10000")
            job = json.loads(body)
            if status != 200 or job["status"] not in ("queued", "running"):
                break
        lost += status != 200 or job["status"] != "succeeded"
    print(f"{len(accepted)} jobs acknowledged, {lost} lost or not succeeded")


if __name__ == "__main__":
    main()
