"""Fixtures: real faena servers (the binary at ``FAENA_BIN``) and workers that stop at teardown.

``cluster`` is parametrized over the stores: ``sqlite`` (one server, a temp file) and, when
``FAENA_TEST_POSTGRES_URL`` is set, ``postgres`` (two servers on a scratch schema: workers
talk to one, submitters to the other). Without the variable the PostgreSQL cases skip, or
fail when ``FAENA_TEST_REQUIRE_POSTGRES=1``. Every test uses worker kinds of its own, so tests
sharing a module's cluster cannot take each other's jobs.
"""

from __future__ import annotations

import os
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import httpx
import pytest

import faena
from faena.testing import PgSchema, Server, default_binary, sqlite_url

#: Every worker kind the tests use (each test its own).
WORKER_KINDS = (
    "t_primes_thread t_primes_process t_fetch_async t_progress t_bounded"
    " t_prefetch t_waits t_retry t_fatal t_notjson t_weird t_big"
    " t_cancel_thread t_cancel_async t_cancel_process t_deadline_thread t_deadline_process t_late"
    " t_stale t_batch t_mixed t_handback t_trace t_client t_killed t_termed t_keys t_many"
    " primes factorial_digits download count_words"  # examples/tutorial_worker.py
).split()

#: Flags of every test server: short leases and back-offs, so that waits stay short.
SERVER_ARGS = [
    "--worker-kinds",
    ",".join(WORKER_KINDS),
    "--worker-lease-ms",
    "1000",
    "--retry-backoff-ms",
    "20",
    "--retry-backoff-max-ms",
    "100",
    "--poll-interval-ms",
    "100",
    "--heartbeat-ms",
    "100",
]

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, what: str = "") -> T:
    """Polls ``check()`` until it returns a truthy value, failing after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what or check}")
        time.sleep(interval)


@dataclass
class Cluster:
    """One store and the servers on it: ``worker_url`` for workers, ``submit_url`` for clients."""

    backend: str
    servers: list[Server]
    tmp: Path
    workers: list[faena.Worker] = field(default_factory=list)

    @property
    def worker_url(self) -> str:
        return self.servers[0].url

    @property
    def submit_url(self) -> str:
        return self.servers[-1].url

    def client(self, api_key: str | None = None) -> faena.Client:
        return faena.Client(self.submit_url, api_key)

    def raw(self, url: str | None = None, api_key: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        return httpx.Client(base_url=url or self.worker_url, timeout=30, headers=headers)

    def worker(self, **kw: Any) -> faena.Worker:
        """A worker on ``worker_url`` with test-friendly timings; stopped at the test's end."""
        kw.setdefault("concurrency", 2)
        kw.setdefault("heartbeat_interval", 0.2)
        kw.setdefault("claim_wait_ms", 5000)
        kw.setdefault("grace_period", 2.0)
        kw.setdefault("cancel_grace", 0.5)
        kw.setdefault("name", f"pytest-{uuid.uuid4().hex[:8]}")
        worker = faena.Worker(self.worker_url, **kw)
        self.workers.append(worker)
        return worker

    def stop_workers(self) -> None:
        while self.workers:
            worker = self.workers.pop()
            if worker._thread is not None:
                try:
                    worker.stop(grace_period=0.0, timeout=20)
                except Exception:  # noqa: BLE001 - a test already failed on it
                    pass


def _backends() -> list[Any]:
    return ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def start_cluster(stack: ExitStack, backend: str, tmp: Path, args: list[str] | None = None) -> Cluster:
    """Starts the servers of ``backend`` (registered on ``stack`` for teardown)."""
    args = SERVER_ARGS + list(args or [])
    binary = default_binary()
    if not os.path.exists(binary):
        pytest.fail(f"no faena binary at {binary} (set FAENA_BIN)")
    if backend == "sqlite":
        server = Server(sqlite_url(tmp), args, log_path=tmp / "server.log")
        stack.callback(server.stop)
        return Cluster(backend, [server.start()], tmp)
    admin = os.environ.get("FAENA_TEST_POSTGRES_URL")
    if not admin:
        if os.environ.get("FAENA_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail("FAENA_TEST_REQUIRE_POSTGRES=1 but FAENA_TEST_POSTGRES_URL is not set")
        pytest.skip("FAENA_TEST_POSTGRES_URL is not set")
    schema = PgSchema(admin).create()
    stack.callback(schema.drop)
    servers = []
    for name in ("a", "b"):
        server = Server(
            schema.url, args, log_path=tmp / f"server-{name}.log", instance_id=f"{schema.schema}-{name}"
        )
        stack.callback(server.stop)
        servers.append(server.start())
    return Cluster(backend, servers, tmp)


@pytest.fixture(scope="module", params=_backends())
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A cluster shared by a module's tests (each test stops its workers)."""
    with ExitStack() as stack:
        yield start_cluster(stack, request.param, tmp_path_factory.mktemp(request.param))


@pytest.fixture
def c(cluster: Cluster) -> Iterator[Cluster]:
    """The module's cluster, with this test's workers stopped at its end."""
    yield cluster
    cluster.stop_workers()


@pytest.fixture
def client(cluster: Cluster) -> Iterator[faena.Client]:
    with cluster.client() as cl:
        yield cl


def primes_naive(start: int, end: int) -> int:
    """Primes in [start, end), by trial division: the reference the tests check against."""

    def is_prime(n: int) -> bool:
        if n < 2:
            return False
        d = 2
        while d * d <= n:
            if n % d == 0:
                return False
            d += 1
        return True

    return sum(1 for n in range(start, end) if is_prime(n))
