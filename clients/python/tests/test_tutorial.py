"""``examples/tutorial_worker.py`` run as a program: its kinds give exact results."""

from __future__ import annotations

import collections
import http.server
import math
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

from conftest import Cluster, primes_naive

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.fixture
def pages(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A local page server on 127.0.0.1 and the texts it serves."""
    root = tmp_path / "pages"
    root.mkdir()
    texts = {
        "a.txt": "the quick brown fox jumps over the lazy dog\n" * 50,
        "b.txt": "to be, or not to be: that is the question.\n\tWhether 'tis nobler ...",
        "c.txt": " ".join(f"word{i % 37}" for i in range(5000)),
    }
    for name, text in texts.items():
        (root / name).write_text(text)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: object, **kw: object) -> None:
            super().__init__(*a, directory=str(root), **kw)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", texts
    server.shutdown()
    server.server_close()


def test_tutorial_worker_kinds(c: Cluster, pages: tuple[str, dict[str, str]]) -> None:
    base, texts = pages
    log = open(c.tmp / "tutorial_worker.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "tutorial_worker.py"), "--url", c.worker_url, "--concurrency", "2"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        with c.client() as client:
            ranges = [(0, 10_000), (10_000, 30_000), (999_000, 1_000_000), (0, 2)]
            primes = [client.submit("primes", {"start": a, "end": b}) for a, b in ranges]
            numbers = [0, 1, 5, 100, 1000, 3000]
            fact = client.submit("factorial_digits", {"numbers": numbers})
            urls = [f"{base}/{name}" for name in texts] + [f"{base}/missing"]
            fetch = client.submit("download", {"urls": urls, "concurrency": 2})
            words = client.submit("count_words", {"source_job": fetch.id, "top": 2})
            inline = client.submit("count_words", {"texts": ["to be or not to be", ""]})
            done = {j.id: client.wait(j.id, timeout=120) for j in primes + [fact, fetch, words, inline]}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    assert all(j.status == "succeeded" for j in done.values()), [
        (j.kind, j.status, j.error) for j in done.values()
    ]
    assert [done[j.id].result["count"] for j in primes] == [primes_naive(a, b) for a, b in ranges]
    assert done[primes[0].id].result == {"count": 1229}
    sys.set_int_max_str_digits(0)
    assert done[fact.id].result == {
        "results": [{"n": n, "digits": len(str(math.factorial(n)))} for n in numbers]
    }
    assert done[fact.id].result["results"][-2:] == [{"n": 1000, "digits": 2568}, {"n": 3000, "digits": 9131}]
    got = done[fetch.id].result["pages"]
    assert [(p["url"], p["status"]) for p in got] == [(u, 200) for u in urls[:-1]] + [(urls[-1], 404)]
    assert [p["text"] for p in got[:-1]] == list(texts.values())
    counted = done[words.id].result
    assert counted["files"][:3] == [
        {"name": u, "words": len(t.split())} for u, t in zip(urls, texts.values(), strict=False)
    ]
    assert counted["total_words"] == sum(f["words"] for f in counted["files"])
    reference = collections.Counter(w.lower() for t in texts.values() for w in t.split())
    top = sorted(reference.items(), key=lambda wc: (-wc[1], wc[0]))[:2]
    assert counted["top_words"] == [{"word": w, "count": n} for w, n in top]
    assert top[0] == ("word0", 136)  # 5000 words cycling over 37: 0..4 come 136 times
    assert done[inline.id].result["total_words"] == 6
