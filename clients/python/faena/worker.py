"""``faena.Worker``: runs the jobs of worker kinds with your Python functions.

    worker = faena.Worker("http://127.0.0.1:8080", concurrency=4)

    @worker.kind("resize", executor="thread")      # or "process", "async"
    def resize(params, ctx):
        ctx.progress(1, 2)
        return {"ok": True}

    worker.run()                                    # until SIGTERM / SIGINT

The worker runs at most ``concurrency`` handlers at once and holds at most ``concurrency +
prefetch`` jobs not done yet (running or waiting for a free handler): it claims (one
long-polling ``POST /workers/claim`` with ``max`` = the room left) whenever half the
prefetch has room (or one job, without prefetch), so that the next jobs are at hand when a
handler frees up and each claim brings several. A job whose handler has returned makes room
at once, its answer waiting for the next batch (claims pause while ``4 * holds`` such answers,
at most ``MAX_OUTCOMES``, wait for the server's acknowledgement; their leases are kept). A
job's deadline runs from its claim, so a prefetched job waits within its ``timeout_ms``: the
default, ``prefetch = concurrency``, holds two jobs per handler; give short jobs more (Celery's
default holds four per process: ``prefetch = 3 * concurrency``) and long ones ``0`` (claim
only for a free handler). A job whose deadline passes while it waits is not run. Answers are batched by the
``Sender``, leases kept by the ``Heartbeater`` (``faena._runtime``). Stopping (a signal,
``stop()``): no new claims; jobs not started yet are handed back at once; running handlers
get ``grace_period`` seconds, and their answers are sent; the jobs still running then are
handed back (their attempt not counted) and their ``ctx.cancelled`` set; child processes
are terminated.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Literal

from ._conn import Aborted, Connection
from ._http import Http
from ._process import ProcessExecutor
from ._runtime import (
    Backoff,
    Heartbeater,
    Run,
    Sender,
    WorkerStats,
    claim_timing,
    install_signals,
    outcome_of,
)
from .context import CancelFlag, JobContext
from .errors import ApiError, ConnectionFailed
from .executors import AsyncExecutor, Result, Task, ThreadExecutor
from .models import JobInfo
from .protocol import MAX_OUTCOMES, Answer, Outcome, WorkerProtocol

__all__ = ["Worker", "WorkerStats"]

log = logging.getLogger("faena.worker")

Executor = Literal["thread", "process", "async"]
_KIND = re.compile(r"[a-z][a-z0-9_]{0,63}")
#: Most jobs one claim may ask for (the server's limit).
MAX_CLAIM = 1000


@dataclass(frozen=True)
class _Kind:
    name: str
    handler: Callable[..., Any]
    executor: Executor


class Worker:
    """A remote worker of faena; see the module's doc.

    ``url`` and ``api_key`` (a worker key) name the server; ``concurrency`` is the most
    handlers running at once; ``prefetch`` the most jobs held beyond them (default
    ``concurrency``); ``name`` the worker's name (jobs show ``worker:NAME``; default
    ``HOST-PID``); ``kinds`` limits the claims to some of the registered kinds;
    ``heartbeat_interval`` (s) overrides a third of the lease; ``claim_wait_ms`` is each
    claim's long-poll; ``grace_period`` (s) what running handlers get at shutdown;
    ``cancel_grace`` (s) what a process or async handler gets to stop after a cancel before
    it is stopped by force; ``processes`` the number of child processes (default
    ``concurrency``).
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        concurrency: int = 4,
        prefetch: int | None = None,
        name: str | None = None,
        kinds: list[str] | None = None,
        heartbeat_interval: float | None = None,
        claim_wait_ms: int = 20_000,
        grace_period: float = 10.0,
        cancel_grace: float = 1.0,
        processes: int | None = None,
        http_timeout: float = 10.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.url = url
        self.concurrency = concurrency
        self.prefetch = concurrency if prefetch is None else max(0, prefetch)
        #: The least room worth a claim: with every handler busy, half the prefetch.
        self._refill = max(1, (self.prefetch + 1) // 2)
        #: The most jobs answered and not yet acknowledged before claims pause (each is still
        #: heartbeated): a sender held up by the server must not pile up work.
        self._max_unacked = min(MAX_OUTCOMES, 4 * self.holds)
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.heartbeat_interval = heartbeat_interval
        self.claim_wait_ms = max(0, min(60_000, claim_wait_ms))
        self.grace_period = grace_period
        self.cancel_grace = cancel_grace
        self.stats = WorkerStats()
        self._only = None if kinds is None else list(kinds)
        self._processes = processes or concurrency
        self._kinds: dict[str, _Kind] = {}
        self._http = Http(url, api_key, http_timeout, pool=4)
        self._claims = Connection(url, api_key, http_timeout)
        self._answers = Connection(url, api_key, http_timeout)
        self._protocol = WorkerProtocol(self._http, self._claims, self._answers)
        self._cond = threading.Condition()
        #: Every run held, by (job id, lease): a job claimed again after its lease was lost
        #: is a new run while the old one's handler may still be running.
        self._runs: dict[tuple[str, int], Run] = {}
        #: Runs whose handler has not returned (waiting for one, or running): what ``holds``
        #: bounds. The rest of ``_runs`` wait for their answer's acknowledgement.
        self._undone = 0
        self._stop = threading.Event()
        self._stopping = False
        self._fatal: BaseException | None = None
        self._executors: dict[str, Any] = {}
        self._sender = Sender(self._protocol, self._finish, self._answered, self._crashed)
        self._heart = Heartbeater(self._protocol, self._snapshot, self._lost)
        self._thread: threading.Thread | None = None
        self._ran = False

    # -- registration ---------------------------------------------------------------------

    def kind(
        self, name: str, executor: Executor = "thread"
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Registers the decorated function as the handler of the worker kind ``name``.

        The handler is called as ``handler(params, ctx)``. ``executor``: ``"thread"`` (a
        plain function), ``"async"`` (an ``async def``) or ``"process"`` (a module-level
        function, run in a child process that can be terminated).
        """
        if not _KIND.fullmatch(name):
            raise ValueError(f"kind names are [a-z][a-z0-9_]{{0,63}}: {name!r}")
        if executor not in ("thread", "process", "async"):
            raise ValueError(f"executor must be 'thread', 'process' or 'async', not {executor!r}")

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            is_async = inspect.iscoroutinefunction(fn)
            if is_async != (executor == "async"):
                need = "an async" if executor == "async" else "a plain"
                raise TypeError(f"{fn.__qualname__}: executor={executor!r} needs {need} function")
            if executor == "process" and "<locals>" in fn.__qualname__:
                raise TypeError(f"{fn.__qualname__}: process handlers must be module-level functions")
            self._kinds[name] = _Kind(name, fn, executor)
            return fn

        return register

    @property
    def kinds(self) -> list[str]:
        """The kinds this worker claims."""
        names = list(self._kinds)
        return names if self._only is None else [k for k in names if k in self._only]

    # -- running and stopping ---------------------------------------------------------------

    def run(self, *, install_signals: bool = True) -> None:
        """Runs until ``stop()`` or SIGTERM/SIGINT (a second signal skips the grace period).

        Raises ``Unauthorized``/``Forbidden`` when the server refuses the key, the
        ``ApiError`` of a claim refused as asked (a kind it does not declare).
        """
        if self._ran:
            raise RuntimeError("a Worker runs once; make a new one")
        self._ran = True
        if not self.kinds:
            raise ValueError("no kinds registered (use @worker.kind)")
        previous = self._install_signals() if install_signals else {}
        claimer = threading.Thread(target=self._claiming, name="faena-claim", daemon=True)
        try:
            self._start()
            claimer.start()
            while not self._stop.wait(1.0):
                pass
        finally:  # a KeyboardInterrupt without our handlers stops it the same way
            self._stop.set()
            try:
                self._shutdown(claimer)
            finally:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)
        if self._fatal is not None:
            raise self._fatal

    def start(self) -> Worker:
        """Runs the worker in a background thread (no signal handlers); ``stop()`` ends it."""
        self._thread = threading.Thread(target=self._run_quietly, name="faena-worker", daemon=True)
        self._thread.start()
        return self

    def _run_quietly(self) -> None:
        try:
            self.run(install_signals=False)
        except BaseException as exc:  # noqa: BLE001 - kept for stop() to raise
            self._fatal = exc

    def stop(
        self, *, grace_period: float | None = None, wait: bool = True, timeout: float | None = None
    ) -> None:
        """Asks the worker to stop (see the module's doc); with ``wait``, and when it was
        started by ``start()``, waits for it (and raises what stopped it, if anything)."""
        if grace_period is not None:
            self.grace_period = grace_period
        self._stop.set()
        if wait and self._thread is not None:
            self._thread.join(timeout)
            if self._fatal is not None:
                raise self._fatal

    @property
    def holds(self) -> int:
        """The most jobs held not done yet (running or waiting for a handler):
        ``concurrency + prefetch``. Jobs whose answers wait for the server come besides."""
        return self.concurrency + self.prefetch

    def running_jobs(self) -> list[str]:
        """Ids of the jobs held now."""
        with self._cond:
            return [job_id for job_id, _ in self._runs]

    def _install_signals(self) -> dict[int, Any]:
        def second() -> None:
            self.grace_period = 0.0

        return install_signals(self._stop, second)

    def _start(self) -> None:
        wanted = {self._kinds[k].executor for k in self.kinds}
        if "thread" in wanted:
            self._executors["thread"] = ThreadExecutor(self.concurrency)
        if "async" in wanted:
            self._executors["async"] = AsyncExecutor(self.concurrency)
        if "process" in wanted:
            self._executors["process"] = ProcessExecutor(self._processes)
        for executor in self._executors.values():
            executor.start()
        self._sender.start()
        self._heart.start()
        log.info(
            "worker %s: claiming %s, concurrency %d, prefetch %d",
            self.name,
            ",".join(self.kinds),
            self.concurrency,
            self.prefetch,
        )

    def _shutdown(self, claimer: threading.Thread) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._claims.abort()
        if claimer.is_alive():
            claimer.join(5.0)
        # Jobs waiting for a handler go back at once.
        with self._cond:
            waiting = [r for r in self._runs.values() if r.task is not None and r.task.withdraw()]
            for run in waiting:
                run.handler_done = run.handed_back = True
            self._undone -= len(waiting)
        for run in waiting:
            run.flag.set("shutdown")
            self._sender.put(run, Outcome(run.info.id, run.info.lease, hand_back=True))
        end = time.monotonic() + self.grace_period
        with self._cond:
            while any(not r.handler_done for r in self._runs.values()):
                end = min(end, time.monotonic() + self.grace_period)  # a second signal cuts it
                left = end - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.2))
            running = [r for r in self._runs.values() if not r.handler_done]
            for run in running:
                run.handed_back = True
        for run in running:
            log.info("job %s: still running at shutdown; handing it back", run.info.id)
            run.flag.set("shutdown")
            self._sender.put(run, Outcome(run.info.id, run.info.lease, hand_back=True))
        for executor in self._executors.values():
            executor.shutdown()
        self._sender.drain(timeout=10.0)
        self._heart.close()
        self._claims.close()
        self._answers.close()
        self._http.close()
        log.info("worker %s stopped: %s", self.name, self.stats)

    # -- claiming ---------------------------------------------------------------------------

    def _claiming(self) -> None:
        try:
            self._claim_loop()
        except BaseException as exc:  # noqa: BLE001 - a bug: stop the worker rather than idle
            log.exception("the claim loop failed")
            self._crashed(exc)

    def _crashed(self, exc: BaseException) -> None:
        """A thread of the worker failed: it stops, and ``run()`` raises ``exc``."""
        if self._fatal is None:
            self._fatal = exc
        self._stop.set()

    def _claim_loop(self) -> None:
        backoff = Backoff()
        kinds = self.kinds
        while True:
            with self._cond:
                while self._full() and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                free = min(self.holds - self._undone, MAX_CLAIM)
            try:
                jobs = self._protocol.claim(self.name, kinds, free, self.claim_wait_ms)
            except Aborted:
                return
            except ApiError as exc:
                if 400 <= exc.status < 500 and exc.status not in (408, 429):
                    # The key refused (401, 403), or the claim refused as asked (a kind the
                    # server does not declare): asking again changes nothing.
                    log.error("the server refused the worker's claims: %s", exc)
                    self._fatal = exc
                    self._stop.set()
                    return
                failure: Exception = exc
            except ConnectionFailed as exc:
                failure = exc
            else:
                backoff.reset()
                for doc in jobs:
                    self._begin(doc)
                continue
            delay = backoff.next()
            log.warning("claim failed (%s); again in %.1f s", failure, delay)
            if self._stop.wait(delay):
                return

    def _begin(self, doc: dict[str, Any]) -> None:
        info = JobInfo.from_claim(doc)
        lease, deadline = claim_timing(doc, time.time())
        interval = self.heartbeat_interval or min(10.0, max(0.1, lease / 3))
        flag = CancelFlag(deadline)
        run = Run(info, doc.get("params"), flag, flag._deadline, interval, time.monotonic() + interval)
        kind = self._kinds.get(info.kind)
        with self._cond:
            self._runs[(info.id, info.lease)] = run
            self.stats.claimed += 1
            refused = self._stopping or kind is None
            if refused:
                run.handler_done = run.handed_back = True
            else:
                self._undone += 1
        self._heart.wake()
        if refused or kind is None:
            self._sender.put(run, Outcome(info.id, info.lease, hand_back=True))
            return
        log.debug("job %s (%s) attempt %d claimed, trace %s", info.id, info.kind, info.attempt, info.trace_id)

        def progress(done: int, total: int) -> None:
            run.progress = (done, total)

        ctx = JobContext(info, flag, progress, log)
        task = Task(kind.handler, run.params, ctx, self.cancel_grace)
        run.task = task
        self._executors[kind.executor].submit(task, lambda _task, result: self._done(run, result))

    # -- answers ----------------------------------------------------------------------------

    def _done(self, run: Run, result: Result) -> None:
        """A handler ended: queue its answer, unless the job is lost or handed back. An answer
        after the deadline goes too: the server, whose clock decides, refuses it (409)."""
        if result.progress is not None:
            run.progress = result.progress
        outcome = outcome_of(run, result)
        # Under the lock, with the answer queued in the same step: a shutdown that sees the
        # handler done finds its answer with the sender.
        with self._cond:
            run.handler_done = True
            self._undone -= 1
            self._cond.notify_all()
            if run.handed_back:
                return
            if not run.lost:
                run.answer_queued = True
                self._sender.put(run, outcome)
                return
        self._finish(run, "lost")

    def _answered(self, run: Run, answer: Answer) -> None:
        if answer.error is not None:
            log.warning("job %s: answer refused: %s", run.info.id, answer.error)
            return self._finish(run, "lost")
        if run.handed_back:
            return self._finish(run, "handed_back")
        log.debug("job %s answered: %s", run.info.id, answer.status)
        self._finish(run, "succeeded" if answer.status == "succeeded" else "failed")

    def _lost(self, run: Run, exc: ApiError) -> None:
        log.warning("job %s: lease lost (%s)", run.info.id, exc.code)
        run.lost = True
        run.flag.set("lost")
        with self._cond:
            # A queued answer is dropped by the sender; one in flight is settled by its reply
            # (a heartbeat racing a completion gets 409 too).
            done = run.handler_done and not run.handed_back and not run.answer_queued
        if done:
            self._finish(run, "lost")

    def _finish(self, run: Run, how: str) -> None:
        """The job's answer is settled (or dropped): free its slot."""
        with self._cond:
            if run.finished:
                return
            if how == "lost" and not run.handler_done and not run.handed_back:
                return  # the slot stays taken until the handler has returned
            run.finished = True
            self._runs.pop((run.info.id, run.info.lease), None)
            field = "lost" if how == "refused" else how
            setattr(self.stats, field, getattr(self.stats, field) + 1)
            self._cond.notify_all()

    def _full(self) -> bool:
        """No room for a claim (under ``_cond``): less than ``_refill`` below ``holds`` jobs
        not done (then every handler is busy), or ``_max_unacked`` answers not acknowledged
        yet besides them."""
        unacked = len(self._runs) - self._undone
        return self.holds - self._undone < self._refill or unacked >= self._max_unacked

    def _snapshot(self) -> list[Run]:
        with self._cond:
            return list(self._runs.values())
