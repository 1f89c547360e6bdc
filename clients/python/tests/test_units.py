"""Small pieces of the worker alone: how a claim's times are read, where a process slot
forwards a cancel, and what the connection of claims and answers sends again."""

from __future__ import annotations

import http.server
import threading
import time
from typing import Any, Iterator

import pytest

from faena._conn import Aborted, Connection
from faena._process import _context, _Slot
from faena._runtime import claim_timing
from faena.context import CancelFlag, JobContext
from faena.errors import ConnectionFailed
from faena.executors import Task
from faena.models import JobInfo

#: A claim as a server whose clock is an hour ahead of this machine's would send it, at
#: this machine's POSIX time NOW: a 30 s lease, 60 s left before the deadline.
NOW = 1_800_000_000.0
SKEWED = {
    "lease_expires_at": "2027-01-15T09:00:30Z",  # NOW + 1 h + 30 s
    "deadline_at": "2027-01-15T09:01:00Z",  # NOW + 1 h + 60 s
}


def test_a_claims_lengths_are_read_without_the_clocks() -> None:
    doc = {**SKEWED, "lease_ms": 30_000, "deadline_in_ms": 60_000}
    lease, deadline = claim_timing(doc, NOW)
    assert lease == 30.0
    assert deadline == NOW + 60.0


def test_without_lengths_the_times_are_read_against_this_clock() -> None:
    # An older server: the skew goes into the result (that is why servers send lengths).
    lease, deadline = claim_timing(SKEWED, NOW)
    assert lease == pytest.approx(3_630.0)
    assert deadline == pytest.approx(NOW + 3_660.0)


def task() -> Task:
    info = JobInfo("j", "k", 1, 3, None, 1)
    ctx: Any = JobContext(info, CancelFlag(None), lambda done, total: None)
    return Task(lambda params, ctx: None, {}, ctx)


def test_a_cancel_forwarded_late_does_not_reach_the_childs_next_job() -> None:
    slot = _Slot(_context())  # no child is started: only the slot's shared code
    first, second = task(), task()
    slot.begin(first)
    slot.end()
    slot.begin(second)
    slot.forward_cancel(first, 2)  # the first job's cancel, arriving after its end
    assert slot.code.value == 0
    slot.forward_cancel(second, 2)
    assert slot.code.value == 2
    slot.begin(first)  # a new job starts clean
    assert slot.code.value == 0


class _Slow(http.server.BaseHTTPRequestHandler):
    """Answers ``{}``, after ``delay`` s on the second request; ``/empty`` with no body."""

    protocol_version = "HTTP/1.1"  # keep-alive
    seen: list[str] = []
    delay = 1.0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.seen.append(self.path)
        if len(self.seen) == 2:
            time.sleep(self.delay)
        body = b"" if self.path == "/empty" else b"{}"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[str]:
    _Slow.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_request_that_timed_out_is_not_sent_again(slow_server: str) -> None:
    conn = Connection(slow_server, None, timeout=0.2)
    assert conn.post("/a", {}) == {}
    with pytest.raises(ConnectionFailed):
        conn.post("/b", {})  # on the kept-alive connection; the server takes 1 s
    conn.close()
    assert _Slow.seen == ["/a", "/b"], "the timed-out request was sent twice"
    with pytest.raises(Aborted):
        conn.post("/c", {})  # closed for good


def test_a_2xx_without_a_json_object_is_a_failed_request(slow_server: str) -> None:
    _Slow.delay = 0.0
    conn = Connection(slow_server, None, timeout=5.0)
    with pytest.raises(ConnectionFailed, match="without a JSON object"):
        conn.post("/empty", {})
    conn.close()
