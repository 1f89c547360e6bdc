"""Where handlers run: threads, an asyncio loop in a thread of its own, or (in
``faena._process``) a pool of child processes.

Every executor takes a ``Task`` (the handler, its params, its context) and calls
``done(task, result)`` exactly once, from any thread, with a ``Result``: the value the
handler returned or how it failed. Turning an exception into a failure (code, message,
retryable) happens here, the same way for all three.
"""

from __future__ import annotations

import asyncio
import inspect
import queue
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from .context import JobContext

__all__ = ["Result", "Task", "ThreadExecutor", "AsyncExecutor", "failure_code"]

_CODE_BAD = re.compile(r"[^A-Za-z0-9_.]")


def failure_code(name: str) -> str:
    """An exception's class name made a valid failure code (``[A-Za-z][A-Za-z0-9_.]{0,63}``)."""
    code = _CODE_BAD.sub("_", name)
    if not code[:1].isascii() or not code[:1].isalpha():
        code = "E" + code
    return code[:64]


@dataclass
class Result:
    """What a handler did: returned ``value`` (``ok``), or failed with ``code``/``message``."""

    ok: bool
    value: Any = None
    code: str = ""
    message: str = ""
    retryable: bool = True
    progress: tuple[int, int] | None = None

    @classmethod
    def success(cls, value: Any) -> Result:
        return cls(True, value)

    @classmethod
    def failure(cls, code: str, message: str, retryable: bool = True) -> Result:
        return cls(False, code=failure_code(code), message=message, retryable=retryable)

    @classmethod
    def from_exception(cls, exc: BaseException) -> Result:
        retryable = getattr(exc, "retryable", True) is not False
        return cls.failure(type(exc).__name__, str(exc) or type(exc).__name__, retryable)


@dataclass(eq=False)
class Task:
    """One run of a handler: the function, its params and its context.

    A task waits in its executor's queue until a slot takes it (``begin``); until then the
    worker may ``withdraw`` it (at shutdown: the job is handed back unrun). Exactly one of
    the two succeeds.
    """

    handler: Callable[..., Any]
    params: Any
    ctx: JobContext
    #: Seconds a handler gets after a cancel before it is stopped by force, where possible.
    cancel_grace: float = 1.0
    _state: str = field(default="queued", init=False)  # then "started" or "withdrawn"
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def begin(self) -> bool:
        """Marks the task started; False if it was withdrawn (skip it: call nothing)."""
        with self._lock:
            if self._state != "queued":
                return False
            self._state = "started"
            return True

    def stale(self) -> bool:
        """Whether the job died while the task waited (deadline passed, lease lost, stopping):
        then it is not run, and ends as ``Result.failure("Cancelled", ...)``."""
        return self.ctx.cancelled.reason in ("deadline", "lost", "shutdown")

    def withdraw(self) -> bool:
        """Takes the task back before it starts; False if it started already."""
        with self._lock:
            if self._state != "queued":
                return False
            self._state = "withdrawn"
            return True


Done = Callable[[Task, Result], None]


class ThreadExecutor:
    """Plain functions on ``size`` threads (cancel is cooperative: read ``ctx.cancelled``).

    Daemon threads rather than a ``ThreadPoolExecutor``, whose threads the interpreter joins
    at exit: a handler that ignores its cancel must not keep a stopped worker alive.
    """

    def __init__(self, size: int) -> None:
        self._queue: queue.SimpleQueue[tuple[Task, Done] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._loop, name=f"faena-handler-{i}", daemon=True) for i in range(size)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def submit(self, task: Task, done: Done) -> None:
        self._queue.put((task, done))

    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            task, done = item
            if not task.begin():
                continue
            if task.stale():
                done(task, Result.failure("Cancelled", f"not started ({task.ctx.cancelled.reason})"))
                continue
            self._call(task, done)

    @staticmethod
    def _call(task: Task, done: Done) -> None:
        try:
            value = task.handler(task.params, task.ctx)
            if inspect.isawaitable(value):
                close = getattr(value, "close", None)
                if close is not None:
                    close()
                result = Result.failure(
                    "ExecutorMismatch",
                    "the handler returned an awaitable: register it with executor='async'",
                    False,
                )
            else:
                result = Result.success(value)
        except BaseException as exc:  # noqa: BLE001 - every handler error, SystemExit too, fails it
            task.ctx.log.warning("handler failed", exc_info=True)
            result = Result.from_exception(exc)
        done(task, result)

    def shutdown(self) -> None:
        for _ in self._threads:
            self._queue.put(None)


class AsyncExecutor:
    """``async def`` handlers on one event loop in a thread of its own.

    When ``ctx.cancelled`` is set, a handler gets ``cancel_grace`` seconds to return, then its
    task is cancelled (``asyncio.CancelledError`` inside it), which fails the attempt.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="faena-async", daemon=True)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._slots: asyncio.Semaphore | None = None

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def submit(self, task: Task, done: Done) -> None:
        asyncio.run_coroutine_threadsafe(self._call(task, done), self._loop)

    async def _call(self, task: Task, done: Done) -> None:
        if self._slots is None:  # made on the loop's own thread
            self._slots = asyncio.Semaphore(self._size)
        async with self._slots:
            if not task.begin():
                return
            if task.stale():
                done(task, Result.failure("Cancelled", f"not started ({task.ctx.cancelled.reason})"))
                return
            await self._started(task, done)

    async def _started(self, task: Task, done: Done) -> None:
        loop = asyncio.get_running_loop()
        try:
            coro = task.handler(task.params, task.ctx)
            if not inspect.isawaitable(coro):
                done(
                    task,
                    Result.failure(
                        "ExecutorMismatch",
                        "the handler is not async: register it with executor='thread'",
                        False,
                    ),
                )
                return
            job = asyncio.ensure_future(coro)
        except Exception as exc:  # noqa: BLE001
            done(task, Result.from_exception(exc))
            return
        self._tasks.add(job)

        def stop_later() -> None:
            grace = 0.0 if task.ctx.cancelled.reason in ("deadline", "lost") else task.cancel_grace
            loop.call_soon_threadsafe(lambda: loop.call_later(grace, job.cancel))

        task.ctx.cancelled.add_callback(stop_later)
        try:
            result = Result.success(await job)
        except asyncio.CancelledError:
            reason = task.ctx.cancelled.reason or "worker stopped"
            result = Result.failure("Cancelled", f"the task was cancelled ({reason})")
        except Exception as exc:  # noqa: BLE001
            result = Result.from_exception(exc)
        finally:
            self._tasks.discard(job)
        done(task, result)

    def shutdown(self) -> None:
        def stop() -> None:
            for job in list(self._tasks):
                job.cancel()
            self._loop.call_later(0.2, self._loop.stop)

        if self._loop.is_running():
            self._loop.call_soon_threadsafe(stop)
            self._thread.join(timeout=5)
