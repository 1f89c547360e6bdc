"""What a handler gets beside its params: ``JobContext`` (``ctx``) and its ``CancelFlag``.

``ctx.cancelled`` is set when a heartbeat answers ``cancel_requested``, when the job's
deadline passes (checked locally too: the claim's ``deadline_in_ms`` read against this
machine's clock, so that a clock set apart from the server's does not move it), when the
lease is lost (a heartbeat answered 409) and when the worker shuts down and hands the job
back. It reads like a ``threading.Event`` (``is_set()``, ``wait(timeout)``) and can be
awaited in ``async`` handlers (``await ctx.wait_cancelled()``). The same interface works in a
child process of the process executor, where the flag is backed by shared memory.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Callable, Protocol

from .errors import Cancelled
from .models import JobInfo

__all__ = ["CancelFlag", "JobContext", "REASONS"]

#: Why a flag was set, by code (the process executor shares the code through shared memory).
REASONS = {1: "cancel_requested", 2: "deadline", 3: "lost", 4: "shutdown"}
_CODES = {v: k for k, v in REASONS.items()}


class _EventLike(Protocol):
    def is_set(self) -> bool: ...
    def set(self) -> None: ...
    def wait(self, timeout: float | None = ...) -> bool: ...


class _CodeCell(Protocol):
    value: int


class _Cell:
    value = 0


class CancelFlag:
    """Set once the job should stop; ``reason`` says why.

    ``deadline`` is the job's deadline as a POSIX timestamp of this machine's clock: past it
    the flag reads as set (reason ``"deadline"``) even before anyone sets it.
    """

    def __init__(
        self,
        deadline: float | None = None,
        event: _EventLike | None = None,
        code: _CodeCell | None = None,
    ) -> None:
        self._event: _EventLike = event if event is not None else threading.Event()
        self._code: _CodeCell = code if code is not None else _Cell()
        self._deadline = deadline
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def set(self, reason: str = "cancel_requested") -> bool:
        """Sets the flag; returns False when it was already set (the first reason stays)."""
        with self._lock:
            if self._event.is_set():
                return False
            self._code.value = _CODES.get(reason, 1)
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()
        return True

    def is_set(self) -> bool:
        """True once set, or once the deadline has passed."""
        return self._event.is_set() or self._past_deadline()

    __bool__ = is_set

    @property
    def reason(self) -> str | None:
        """``cancel_requested``, ``deadline``, ``lost``, ``shutdown``, or None while unset."""
        if self._event.is_set():
            return REASONS.get(self._code.value, "cancel_requested")
        return "deadline" if self._past_deadline() else None

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until the flag is set (or the deadline passes), at most ``timeout`` s."""
        if self._deadline is not None:
            left = max(0.0, self._deadline - time.time())
            timeout = left if timeout is None else min(timeout, left)
        return self._event.wait(timeout) or self.is_set()

    async def wait_async(self, timeout: float | None = None) -> bool:
        """Awaits the flag in an event loop without blocking it; True once set."""
        if self.is_set():
            return True
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def resolve() -> None:
            if not fut.done():
                fut.set_result(None)

        def wake() -> None:
            loop.call_soon_threadsafe(resolve)

        self.add_callback(wake)
        if self._deadline is not None:
            left = max(0.0, self._deadline - time.time())
            timeout = left if timeout is None else min(timeout, left)
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            self.remove_callback(wake)
        return self.is_set()

    def remove_callback(self, callback: Callable[[], None]) -> None:
        """Forgets a callback ``add_callback`` registered (no-op if it ran or is unknown)."""
        with self._lock:
            try:
                self._callbacks.remove(callback)
            except ValueError:
                pass

    def add_callback(self, callback: Callable[[], None]) -> None:
        """Calls ``callback()`` (from the setting thread) when the flag is set; at once if it is."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def _past_deadline(self) -> bool:
        return self._deadline is not None and time.time() >= self._deadline


class JobContext:
    """The handler's view of its job: ``job``, ``cancelled``, ``progress()``, ``log``."""

    def __init__(
        self,
        job: JobInfo,
        cancelled: CancelFlag,
        progress_sink: Callable[[int, int], None],
        logger: logging.Logger | None = None,
    ) -> None:
        self.job = job
        self.cancelled = cancelled
        self._sink = progress_sink
        base = logger or logging.getLogger("faena.worker")
        extra: dict[str, Any] = {"job_id": job.id, "kind": job.kind, "trace_id": job.trace_id}
        self.log = logging.LoggerAdapter(base, extra)

    def progress(self, done: int, total: int) -> None:
        """Reports ``done`` of ``total`` units; sent with the next heartbeat and the answer."""
        done, total = int(done), int(total)
        if not 0 <= done <= total:
            raise ValueError(f"progress must have 0 <= done <= total, got {done}/{total}")
        self._sink(done, total)

    def raise_if_cancelled(self) -> None:
        """Raises ``faena.Cancelled`` once the flag is set."""
        if self.cancelled.is_set():
            raise Cancelled(f"job {self.job.id}: {self.cancelled.reason}")

    async def wait_cancelled(self, timeout: float | None = None) -> bool:
        """``await``-able wait on ``cancelled`` for async handlers; True once set."""
        return await self.cancelled.wait_async(timeout)
