"""Small pieces of the worker alone: how a claim's times are read, and where a process
slot forwards a cancel."""

from __future__ import annotations

from typing import Any

import pytest

from faena._process import _context, _Slot
from faena._runtime import claim_timing
from faena.context import CancelFlag, JobContext
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
    slot = _Slot(_context())  # no child is started: only the slot's event and code
    first, second = task(), task()
    slot.begin(first)
    slot.end()
    slot.begin(second)
    slot.forward_cancel(first, 2)  # the first job's cancel, arriving after its end
    assert not slot.event.is_set() and slot.code.value == 0
    slot.forward_cancel(second, 2)
    assert slot.event.is_set() and slot.code.value == 2
    slot.begin(first)  # a new job starts clean
    assert not slot.event.is_set() and slot.code.value == 0
