"""Worker keys and submit keys: each reaches its own routes only (403 ``forbidden`` across)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Iterator

import pytest

import faena

from conftest import Cluster, eventually, start_cluster

SUBMIT_KEY = "submit-key-0123456789abcdef"
WORKER_KEY = "worker-key-0123456789abcdef"


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[Cluster]:
    with ExitStack() as stack:
        cluster = start_cluster(
            stack, "sqlite", tmp_path, ["--api-keys", SUBMIT_KEY, "--worker-api-keys", WORKER_KEY]
        )
        yield cluster
        cluster.stop_workers()


def test_keys_of_each_role_reach_only_their_routes(keyed: Cluster) -> None:
    with keyed.client(WORKER_KEY) as as_worker, keyed.client(SUBMIT_KEY) as as_submitter:
        with pytest.raises(faena.Forbidden) as refused:
            as_worker.submit("t_keys", {})
        assert (refused.value.status, refused.value.code) == (403, "forbidden")
        job = as_submitter.submit("t_keys", {"n": 2})
        with pytest.raises(faena.Forbidden):
            as_worker.get(job.id)
    with keyed.raw(api_key=SUBMIT_KEY) as raw:
        resp = raw.post("/workers/claim", json={"worker": "w", "kinds": ["t_keys"]})
        assert (resp.status_code, resp.json()["code"]) == (403, "forbidden")
    with keyed.client() as anonymous, pytest.raises(faena.Unauthorized) as unauthorized:
        anonymous.get(job.id)
    assert unauthorized.value.code == "unauthorized"

    wrong = keyed.worker(api_key=SUBMIT_KEY)
    wrong.kind("t_keys")(lambda params, ctx: {})
    wrong.start()
    eventually(lambda: not wrong._thread.is_alive(), what="the worker stopped on 403")  # type: ignore[union-attr]
    with pytest.raises(faena.Forbidden):
        wrong.stop()
    keyed.workers.remove(wrong)

    right = keyed.worker(api_key=WORKER_KEY)
    right.kind("t_keys")(lambda params, ctx: {"double": params["n"] * 2})
    right.start()
    with keyed.client(SUBMIT_KEY) as as_submitter:
        done = as_submitter.wait(job.id, timeout=10)
    assert (done.status, done.result) == ("succeeded", {"double": 4})
