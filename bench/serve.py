"""What the Python benchmark scripts share (imported, not run): a faena binary serving on
127.0.0.1 with a fresh SQLite file, stopped when the block ends, and one HTTP call to it.
Standard library only."""

import contextlib
import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def call(url, body=None, key=None, timeout=120):
    """GET `url`, or POST `body` as JSON; the status and the body's bytes (errors included)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if data is not None:
        req.add_header("content-type", "application/json")
    if key:
        req.add_header("authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def json_of(url, body=None, key=None):
    """`call`, for an answer that must be a 2xx JSON document."""
    status, data = call(url, body, key)
    if not 200 <= status < 300:
        raise RuntimeError(f"{url}: {status} {data[:300]!r}")
    return json.loads(data)


@contextlib.contextmanager
def faena(binary, port, args=(), database=None, log=subprocess.DEVNULL):
    """`binary serve` on 127.0.0.1:`port` (on `database`, else a fresh SQLite file), ready;
    yields its base URL and stops it (by its PID) when the block ends."""
    with tempfile.TemporaryDirectory() as scratch:
        url = database or f"sqlite://{scratch}/faena.db"
        server = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{port}", "--database-url", url, *args],
            env=dict(os.environ, RUST_LOG=os.environ.get("BENCH_RUST_LOG", "warn")),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if call(base + "/readyz", timeout=2)[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.05)
            else:
                raise RuntimeError(f"{binary} did not start")
            yield base
        finally:
            server.terminate()
            server.wait()
