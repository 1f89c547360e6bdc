"""The worker's moving parts besides claiming: ``Run`` (one claimed job), the ``Sender``
(answers, batched) and the ``Heartbeater`` (leases, cancels, deadlines).

* The sender sends whatever outcomes are queued whenever it is idle, up to 1000 in one
  ``POST /workers/complete``: no timer, so a lone job's answer leaves at once and a burst
  shares requests. While the server cannot be reached it retries with back-off, keeping the
  outcomes (their leases stay renewed); an outcome whose job is lost or past its deadline is
  dropped, the server having settled the job already.
* The heartbeater renews every run's lease each ``interval`` (sending its progress when it
  changed), sets ``ctx.cancelled`` on ``cancel_requested``, at ``deadline_at`` and when a
  heartbeat answers 409 (the lease is lost: the run's answer will be dropped).
"""

from __future__ import annotations

import collections
import json
import logging
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ._conn import Aborted
from .context import CancelFlag
from .errors import ApiError, Conflict, ConnectionFailed, NotFound
from .executors import Result
from .models import JobInfo, parse_time
from .protocol import MAX_OUTCOMES, Answer, Outcome, WorkerProtocol

__all__ = [
    "Run",
    "Sender",
    "Heartbeater",
    "Backoff",
    "WorkerStats",
    "claim_timing",
    "install_signals",
    "json_checked",
    "outcome_of",
]

log = logging.getLogger("faena.worker")


@dataclass
class WorkerStats:
    """Counts of what the worker did, by how each job's answer ended."""

    claimed: int = 0
    succeeded: int = 0  # results acknowledged
    failed: int = 0  # failures acknowledged (the job queued again, failed or cancelled)
    handed_back: int = 0
    lost: int = 0  # answers refused (409) or dropped: lease lost, deadline passed
    unsent: int = 0  # answers given up on (server unreachable at shutdown)


def install_signals(stop: threading.Event, second: Callable[[], None]) -> dict[int, Any]:
    """SIGTERM and SIGINT set ``stop`` (a second one calls ``second`` too); the handlers they
    replace, to put back. Only from the main thread (else nothing is installed)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handle(signum: int, frame: Any) -> None:
        if stop.is_set():
            second()
            log.warning("second signal: handing jobs back now")
        log.info("signal %d: stopping", signum)
        stop.set()

    return {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}


@dataclass(eq=False)
class Run:
    """One claimed job, from its claim until its answer is acknowledged or dropped."""

    info: JobInfo
    params: Any
    flag: CancelFlag
    deadline: float | None  # POSIX time of the deadline, by this machine's clock
    interval: float  # seconds between heartbeats
    next_beat: float  # monotonic time of the next heartbeat
    progress: tuple[int, int] | None = None
    sent_progress: tuple[int, int] | None = None
    lost: bool = False
    handed_back: bool = False
    handler_done: bool = False
    answer_queued: bool = False  # its answer is with the sender: the server's reply settles it
    finished: bool = False
    started: float = field(default_factory=time.monotonic)
    task: Any = None  # its executors.Task, once submitted


def claim_timing(doc: Mapping[str, Any], now: float) -> tuple[float, float | None]:
    """A claimed job's lease length (s) and its deadline as a POSIX time of this machine's
    clock (``now`` is ``time.time()`` on receiving the claim).

    From the server's ``lease_ms`` and ``deadline_in_ms``, lengths that a clock set apart from
    the server's does not bend; from ``lease_expires_at`` and ``deadline_at`` read against
    this clock when the server sends no lengths (an older one).
    """
    lease_ms, deadline_in_ms = doc.get("lease_ms"), doc.get("deadline_in_ms")
    if isinstance(lease_ms, int) and isinstance(deadline_in_ms, int):
        return lease_ms / 1000, now + deadline_in_ms / 1000
    expires, deadline = parse_time(doc.get("lease_expires_at")), parse_time(doc.get("deadline_at"))
    lease = expires.timestamp() - now if expires else 30.0
    return lease, deadline.timestamp() if deadline else None


class Backoff:
    """Exponential back-off with jitter, 0.1 s doubling to ``cap``."""

    def __init__(self, cap: float = 5.0) -> None:
        self.cap = cap
        self.delay = 0.0

    def next(self) -> float:
        self.delay = min(self.cap, max(0.1, self.delay * 2))
        return self.delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.delay = 0.0


def again_error(again: list[tuple[Run, Outcome]]) -> ConnectionFailed:
    """What the sender logs when the server answered ``again``'s outcomes with 5xx problems."""
    return ConnectionFailed(f"{len(again)} answers not recorded (server error)")


def json_checked(value: Any) -> tuple[int, str | None]:
    """The size of ``value`` as JSON, and None; or 0 and why it is not JSON."""
    try:
        return len(json.dumps(value, allow_nan=False)), None
    except (TypeError, ValueError, RecursionError) as exc:
        return 0, f"the handler returned a value that is not JSON ({type(value).__name__}): {exc}"


def outcome_of(run: Run, result: Result) -> Outcome:
    """The answer for ``run`` whose handler ended with ``result``: a value that is not JSON
    fails the job (not retryable); a failure's message is cut to what the server takes."""
    outcome = Outcome(run.info.id, run.info.lease, progress=run.progress)
    size, problem = json_checked(result.value) if result.ok else (0, None)
    if result.ok and problem is None:
        outcome.result = result.value
        outcome.size = size
    else:
        code, message = ("InvalidResult", problem) if problem else (result.code, result.message)
        retryable = False if problem else result.retryable
        outcome.fail = (code, (message or code).replace("\0", "")[:4096], retryable)
    return outcome


#: Most bytes of results in one ``POST /workers/complete`` (the server takes 1 MiB by default,
#: ``--max-body-bytes``): a batch past it would be refused whole, then sent one by one.
MAX_BATCH_BYTES = 512 * 1024


Finish = Callable[[Run, str], None]


class Sender:
    """Sends queued outcomes in batches; ``finish(run, how)`` once each is settled."""

    def __init__(
        self,
        protocol: WorkerProtocol,
        finish: Finish,
        on_answer: Callable[[Run, Answer], None],
        crashed: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._protocol = protocol
        self._finish = finish
        self._on_answer = on_answer
        self._crashed = crashed
        self._cond = threading.Condition()
        self._queue: collections.deque[tuple[Run, Outcome]] = collections.deque()
        self._closing = False
        self._give_up_at: float | None = None
        self._thread = threading.Thread(target=self._run, name="faena-sender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, run: Run, outcome: Outcome) -> None:
        with self._cond:
            self._queue.append((run, outcome))
            self._cond.notify_all()

    def drain(self, timeout: float) -> bool:
        """Waits until everything queued is settled (at most ``timeout`` s), then stops."""
        if self._thread.ident is None:  # never started
            return True
        end = time.monotonic() + timeout
        with self._cond:
            self._give_up_at = end
            self._closing = True
            self._cond.notify_all()
        self._thread.join(max(0.0, end - time.monotonic()) + 1.0)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._loop()
        except Aborted:  # the connection closed under a sender that outlived its drain
            with self._cond:
                left = list(self._queue)
                self._queue.clear()
            for run, _ in left:
                self._finish(run, "unsent")
        except BaseException as exc:  # noqa: BLE001 - a bug: the worker stops rather than hang
            log.exception("the sender failed")
            if self._crashed is not None:
                self._crashed(exc)

    def _loop(self) -> None:
        backoff = Backoff()
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                batch: list[tuple[Run, Outcome]] = []
                size = 0
                while self._queue and len(batch) < MAX_OUTCOMES:
                    size += self._queue[0][1].size
                    if batch and size > MAX_BATCH_BYTES:
                        break
                    batch.append(self._queue.popleft())
            batch = [(run, o) for run, o in batch if self._still_wanted(run, o)]
            if not batch:
                continue
            try:
                again = self._send(batch)
                if again:
                    # Answered, some of them, with a server error: those again, after a pause.
                    batch = again
                    raise again_error(again)
                backoff.reset()
            except (ConnectionFailed, ApiError) as exc:
                with self._cond:
                    self._queue.extendleft(reversed(batch))
                    give_up = self._give_up_at is not None and time.monotonic() >= self._give_up_at
                if give_up:
                    log.error("giving up on %d answers: %s", len(self._queue), exc)
                    while self._queue:
                        self._finish(self._queue.popleft()[0], "unsent")
                    return
                delay = backoff.next()
                log.warning("sending %d answers failed (%s); again in %.1f s", len(batch), exc, delay)
                time.sleep(delay)

    def _still_wanted(self, run: Run, outcome: Outcome) -> bool:
        if run.lost:
            self._finish(run, "lost")
            return False
        return True

    def _send(self, batch: list[tuple[Run, Outcome]]) -> list[tuple[Run, Outcome]]:
        """Sends ``batch``; the outcomes the server could not record (to send again)."""
        try:
            answers = self._protocol.answer([o for _, o in batch])
        except ApiError as exc:
            if exc.status not in (400, 413, 422):
                raise  # 5xx, 429, a key refused: the whole batch again after a back-off
            # The request as a whole was refused (too large, or one outcome the server
            # cannot take): each alone, and a refused result becomes a failure.
            for run, outcome in batch:
                self._send_alone(run, outcome)
            return []
        again: list[tuple[Run, Outcome]] = []
        for (run, outcome), answer in zip(batch, answers, strict=True):
            if answer.error is not None and answer.error.status >= 500:
                again.append((run, outcome))  # not recorded (the store failed): send it again
            else:
                self._on_answer(run, answer)
        return again

    def _send_alone(self, run: Run, outcome: Outcome) -> None:
        try:
            answers = self._protocol.answer([outcome])
        except ApiError as exc:
            if exc.status >= 500 or exc.status in (408, 429):
                raise
            if outcome.fail is None and not outcome.hand_back:
                log.error("job %s: the server refused its result (%s); failing it", run.info.id, exc)
                outcome.result = None
                outcome.fail = ("ResultRefused", f"the server refused the result: {exc}"[:4096], False)
                self._send_alone(run, outcome)
            else:
                log.error("job %s: the server refused its answer (%s)", run.info.id, exc)
                self._finish(run, "refused")
            return
        self._on_answer(run, answers[0])


class Heartbeater:
    """Renews the leases of ``runs()`` and keeps their cancel flags; ``lost(run, exc)`` on 409."""

    def __init__(
        self,
        protocol: WorkerProtocol,
        runs: Callable[[], list[Run]],
        lost: Callable[[Run, ApiError], None],
    ) -> None:
        self._protocol = protocol
        self._runs = runs
        self._lost = lost
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name="faena-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.ident is not None:
            self._thread.join(5.0)

    def _loop(self) -> None:
        while True:
            now, wall = time.monotonic(), time.time()
            wake_at = now + 1.0
            due = []
            for run in self._runs():
                if run.finished or run.lost:
                    continue
                if run.deadline is not None:
                    if wall >= run.deadline:
                        run.flag.set("deadline")
                    else:
                        wake_at = min(wake_at, now + run.deadline - wall)
                if run.next_beat <= now:
                    due.append(run)
                else:
                    wake_at = min(wake_at, run.next_beat)
            for i, run in enumerate(due):
                if not self._beat(run):
                    # The server is unreachable: the others would wait out the same timeout
                    # one after the other, past their leases. Again for all, shortly.
                    for later in due[i + 1 :]:
                        later.next_beat = run.next_beat
                    wake_at = min(wake_at, run.next_beat)
                    break
                wake_at = min(wake_at, run.next_beat)
            with self._cond:
                if self._closing:
                    return
                self._cond.wait(max(0.0, wake_at - time.monotonic()))
                if self._closing:
                    return

    def _beat(self, run: Run) -> bool:
        """Renews one lease; False when the server could not be reached."""
        progress = run.progress if run.progress != run.sent_progress else None
        timeout = min(5.0, max(1.0, run.interval * 2))
        try:
            doc = self._protocol.heartbeat(run.info.id, run.info.lease, progress, timeout)
        except (Conflict, NotFound) as exc:
            run.next_beat = float("inf")
            self._lost(run, exc)
            return True
        except ConnectionFailed as exc:
            log.warning("job %s: heartbeat failed (%s)", run.info.id, exc)
            run.next_beat = time.monotonic() + min(run.interval, 1.0)
            return False
        except ApiError as exc:
            log.warning("job %s: heartbeat failed (%s)", run.info.id, exc)
            run.next_beat = time.monotonic() + min(run.interval, 1.0)
            return True
        if progress is not None:
            run.sent_progress = progress
        if doc.get("cancel_requested"):
            if run.flag.set("cancel_requested"):
                log.info("job %s: cancel requested", run.info.id)
        run.next_beat = time.monotonic() + run.interval
        return True
