"""The process executor: handlers in reusable child processes that can be terminated.

Each of ``size`` slots owns one child (started by ``forkserver`` where the platform has it,
else ``spawn``: never ``fork``, the worker has threads) and one thread in the parent that
feeds it tasks over a ``Pipe``. Handlers must be importable (module-level functions), as
with ``multiprocessing``. Across the boundary:

* progress: the child sends ``("progress", done, total)`` (at most every 50 ms, and the
  last one with the result);
* cancel: a reason code in shared memory backs the child's ``ctx.cancelled`` (read by
  polling every 20 ms in ``wait()``: the ``set()`` of a ``multiprocessing.Event`` waits for
  every process sleeping in its ``wait()`` to wake, and one killed there would hang the
  parent); the parent writes it when the job's own flag is set, under the slot's lock and
  only while the child still runs that job (a late cancel cannot reach the next);
* stop by force: a child still running ``cancel_grace`` seconds after a cancel (at once
  past the deadline, on a lost lease or at shutdown) gets SIGTERM, then SIGKILL a second
  later, and is replaced by a fresh one.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import signal
import threading
import time
from typing import Any

from .context import _CODES, CancelFlag, JobContext
from .executors import Done, Result, Task

__all__ = ["ProcessExecutor"]

_PROGRESS_EVERY = 0.05
#: How often a child waiting on its cancel flag looks at it.
_CANCEL_POLL = 0.02


class _SharedCode:
    """The child's side of its cancel flag: set while the shared code is not 0."""

    def __init__(self, code: Any) -> None:
        self._code = code

    def is_set(self) -> bool:
        return bool(self._code.value)

    def set(self) -> None:
        if not self._code.value:
            self._code.value = 1

    def wait(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = _CANCEL_POLL if end is None else min(_CANCEL_POLL, end - time.monotonic())
            if left <= 0:
                return False
            time.sleep(left)
        return True


def _context() -> Any:
    methods = mp.get_all_start_methods()
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


def _child_main(conn: Any, code: Any) -> None:
    """The loop of a child: receive a task, run it, send its result; until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent to handle
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        except Exception as exc:  # noqa: BLE001 - the handler could not be unpickled
            conn.send(("done", Result.failure("HandlerImportError", repr(exc), False)))
            continue
        if msg is None:
            return
        handler, params, info, deadline = msg
        sent_at = [0.0]
        latest: list[tuple[int, int] | None] = [None]

        def sink(done: int, total: int) -> None:
            latest[0] = (done, total)
            now = time.monotonic()
            if now - sent_at[0] >= _PROGRESS_EVERY or done == total:
                sent_at[0] = now
                conn.send(("progress", done, total))

        ctx = JobContext(info, CancelFlag(deadline, event=_SharedCode(code), code=code), sink)
        try:
            result = Result.success(handler(params, ctx))
        except Exception as exc:  # noqa: BLE001
            result = Result.from_exception(exc)
        result.progress = latest[0]
        try:
            conn.send(("done", result))
        except Exception as exc:  # noqa: BLE001 - the value could not be pickled
            bad = Result.failure(
                "InvalidResult", f"the handler's return value cannot be sent: {exc!r}", False
            )
            conn.send(("done", bad))


class _Slot:
    """One child process and the parent's end of its pipe."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx
        self.code = ctx.Value("b", 0, lock=False)  # no lock a killed child could hold
        self.proc: Any = None
        self.conn: Any = None
        #: The task the child runs now; with ``lock``, a cancel forwarded for one task (from
        #: another thread) can never land on the next one the child takes.
        self.task: Task | None = None
        self.lock = threading.Lock()

    def begin(self, task: Task) -> None:
        """Makes ``task`` the child's: its cancel cleared, later cancels forwarded."""
        with self.lock:
            self.task = task
            self.code.value = 0

    def forward_cancel(self, task: Task, code: int) -> None:
        """Passes ``task``'s cancel to the child, if the child still runs it."""
        with self.lock:
            if self.task is task:
                self.code.value = code

    def end(self) -> None:
        with self.lock:
            self.task = None

    def ensure(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            return
        self.close()
        parent, child = self._ctx.Pipe()
        self.proc = self._ctx.Process(
            target=_child_main, args=(child, self.code), name="faena-child", daemon=True
        )
        self.proc.start()
        child.close()
        self.conn = parent

    def kill(self) -> None:
        """SIGTERM, then SIGKILL after a second; the slot starts a new child when next used."""
        proc = self.proc
        if proc is not None and proc.is_alive():
            proc.terminate()
            proc.join(1.0)
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
        self.close()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        if self.proc is not None and not self.proc.is_alive():
            self.proc.join(0)
        self.proc = None


class ProcessExecutor:
    """``size`` reusable child processes; see the module's doc."""

    def __init__(self, size: int) -> None:
        self._mp = _context()
        self._queue: queue.Queue[tuple[Task, Done] | None] = queue.Queue()
        self._slots = [_Slot(self._mp) for _ in range(size)]
        self._threads = [
            threading.Thread(target=self._feed, args=(slot,), name=f"faena-proc-{i}", daemon=True)
            for i, slot in enumerate(self._slots)
        ]
        self._closing = False

    def start(self) -> None:
        for slot in self._slots:
            slot.ensure()  # warm: the first jobs do not pay for starting children
        for thread in self._threads:
            thread.start()

    def submit(self, task: Task, done: Done) -> None:
        self._queue.put((task, done))

    def _feed(self, slot: _Slot) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            task, done = item
            if not task.begin():
                continue
            try:
                result = self._run(slot, task)
            except Exception as exc:  # noqa: BLE001 - a broken pipe, a child that failed to start
                slot.kill()
                result = Result.failure("WorkerProcessError", repr(exc))
            done(task, result)

    def _run(self, slot: _Slot, task: Task) -> Result:
        if task.ctx.cancelled.reason in ("deadline", "lost", "shutdown"):
            return Result.failure("Cancelled", f"not started ({task.ctx.cancelled.reason})")
        slot.ensure()
        slot.begin(task)
        flag = task.ctx.cancelled
        flag.add_callback(lambda: slot.forward_cancel(task, _CODES.get(flag.reason or "", 1)))
        deadline = flag._deadline  # the child checks the deadline itself too
        try:
            slot.conn.send((task.handler, task.params, task.ctx.job, deadline))
        except OSError as exc:  # the child died between jobs: another one may run it
            slot.kill()
            return Result.failure("WorkerProcessError", f"cannot reach the child process: {exc!r}")
        except Exception as exc:  # noqa: BLE001 - the handler or params cannot be pickled
            return Result.failure("NotPicklable", f"cannot send the job to a child process: {exc!r}", False)
        kill_at: float | None = None
        try:
            while True:
                if slot.conn.poll(0.05):
                    try:
                        msg = slot.conn.recv()
                    except EOFError:
                        slot.kill()
                        return Result.failure("WorkerProcessDied", "the child process running the job died")
                    if msg[0] == "progress":
                        task.ctx.progress(msg[1], msg[2])
                        continue
                    result: Result = msg[1]
                    return result
                if not slot.proc.is_alive():
                    code = slot.proc.exitcode
                    slot.kill()
                    return Result.failure(
                        "WorkerProcessDied", f"the child process running the job exited ({code})"
                    )
                if flag.is_set() and kill_at is None:
                    hard = self._closing or flag.reason in ("deadline", "lost", "shutdown")
                    kill_at = time.monotonic() + (0.0 if hard else task.cancel_grace)
                if kill_at is not None and time.monotonic() >= kill_at:
                    slot.kill()
                    return Result.failure("Cancelled", f"the child process was terminated ({flag.reason})")
        finally:
            slot.end()

    def shutdown(self) -> None:
        """Terminates every child (a running one by force) and stops the feeding threads."""
        self._closing = True
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            if thread.is_alive():
                thread.join(3.0)
        for slot in self._slots:
            if slot.conn is not None:
                try:
                    slot.conn.send(None)
                except OSError:
                    pass
        deadline = time.monotonic() + 2.0
        for slot in self._slots:
            if slot.proc is not None:
                slot.proc.join(max(0.0, deadline - time.monotonic()))
            slot.kill()
