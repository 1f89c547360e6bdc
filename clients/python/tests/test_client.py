"""``faena.Client`` against a real server: options, long-polls, batches and error answers."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

import faena

from conftest import Cluster


def test_submit_options_are_sent(client: faena.Client) -> None:
    later = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    dep = client.submit("t_client", {"dep": True})
    job = client.submit(
        "t_client",
        {"a": [1, 2]},
        priority=7,
        max_attempts=4,
        timeout_ms=1234,
        run_after=later,
        depends_on=[dep.id],
    )
    assert (job.kind, job.status, job.params, job.priority, job.max_attempts, job.timeout_ms) == (
        "t_client",
        "queued",
        {"a": [1, 2]},
        7,
        4,
        1234,
    )
    assert job.run_after == later and job.depends_on == (dep.id,) and job.attempt == 0
    assert client.get(job.id) == job
    cancelled = client.cancel(job.id)
    assert (cancelled.status, cancelled.error.code) == ("cancelled", "cancelled")
    with pytest.raises(faena.Conflict) as final:
        client.cancel(job.id)
    assert (final.value.status, final.value.code) == (409, "job_final")


def test_idempotency_key_returns_the_first_job(client: faena.Client) -> None:
    key = f"order-{uuid.uuid4()}"
    first = client.submit("t_client", {"n": 1}, idempotency_key=key)
    again = client.submit("t_client", {"n": 1}, idempotency_key=key)
    assert again.id == first.id
    with pytest.raises(faena.InvalidRequest) as reused:
        client.submit("t_client", {"n": 2}, idempotency_key=key)
    assert (reused.value.status, reused.value.code, reused.value.field) == (
        422,
        "idempotency_key_reused",
        "Idempotency-Key",
    )


def test_wait_long_polls_to_the_end_and_times_out(client: faena.Client) -> None:
    job = client.submit("sleep", {"ms": 300})
    done = client.wait(job.id, timeout=10)
    assert (done.status, done.result, done.is_final) == ("succeeded", {"slept_ms": 300}, True)
    stuck = client.submit("t_client", {"never": "claimed"})
    with pytest.raises(faena.WaitTimeout) as timeout:
        client.wait(stuck.id, timeout=0.3)
    assert isinstance(timeout.value, TimeoutError) and timeout.value.job.status == "queued"


def test_error_answers_carry_the_problem(client: faena.Client) -> None:
    with pytest.raises(faena.InvalidRequest) as bad:
        client.submit("count_primes", {"start": 5, "end": 1})
    assert (bad.value.status, bad.value.code) == (422, "invalid_params")
    assert bad.value.field is not None and bad.value.field.startswith("params")
    with pytest.raises(faena.InvalidRequest) as unknown:
        client.submit("no_such_kind", {})
    assert unknown.value.code == "unknown_kind"
    with pytest.raises(faena.NotFound) as missing:
        client.get(str(uuid.uuid4()))
    assert (missing.value.status, missing.value.code) == (404, "job_not_found")
    with pytest.raises(faena.InvalidRequest) as not_uuid:
        client.get("nope")
    assert (not_uuid.value.status, not_uuid.value.code) == (400, "invalid_id")
    with pytest.raises(ValueError):
        client.submit("t_client", {}, run_after=datetime(2030, 1, 1))  # naive: refused locally


def test_submit_many_answers_item_by_item(client: faena.Client) -> None:
    specs = [faena.JobSpec("t_client", {"i": i}, priority=i % 100) for i in range(1500)]
    specs[3] = faena.JobSpec("t_client", {"i": 3}, priority=1000)
    items = client.submit_many(specs)
    assert len(items) == 1500
    assert [i.accepted for i in items].count(False) == 1 and not items[3].accepted
    assert (items[3].status, items[3].error.code, items[3].error.field) == (
        422,
        "invalid_field",
        "jobs[3].priority",
    )
    assert all(i.job_status == "queued" for n, i in enumerate(items) if n != 3)
    assert client.get(items[1499].id).params == {"i": 1499}
    page, cursor = client.list(kind="t_client", status="queued", limit=5)
    assert len(page) == 5 and cursor is not None and all(j.kind == "t_client" for j in page)


def test_client_cannot_reach_a_closed_port(cluster: Cluster) -> None:
    with faena.Client("http://127.0.0.1:9", timeout=2) as dead, pytest.raises(faena.ConnectionFailed):
        dead.get(str(uuid.uuid4()))
