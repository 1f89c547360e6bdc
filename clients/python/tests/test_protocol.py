"""The workers' routes, raw (httpx): fencing by the lease, batch claims, batch answers,
hand-backs and traceparent."""

from __future__ import annotations

import re

import httpx

import faena

from conftest import Cluster


def _claim(raw: httpx.Client, kind: str, max_jobs: int = 1, wait_ms: int = 5000) -> list[dict]:
    resp = raw.post(
        "/workers/claim", json={"worker": "raw", "kinds": [kind], "max": max_jobs, "wait_ms": wait_ms}
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["jobs"]


def test_stale_lease_is_refused_and_changes_nothing(c: Cluster) -> None:
    with c.client() as client, c.raw() as raw:
        job = client.submit("t_stale", {"x": 1})
        [claimed] = _claim(raw, "t_stale")
        lease, path = claimed["lease"], f"/jobs/{job.id}"
        before = client.get(job.id)
        for route, body in [
            ("complete", {"lease": lease + 1, "result": {"stale": True}}),
            ("fail", {"lease": lease + 1, "code": "Stale", "message": "no", "retryable": False}),
            ("heartbeat", {"lease": lease + 1, "progress": {"done": 1, "total": 2}}),
        ]:
            resp = raw.post(f"{path}/{route}", json=body)
            assert resp.status_code == 409, (route, resp.text)
            assert resp.headers["content-type"].startswith("application/problem+json")
            assert (resp.json()["code"], resp.json()["field"]) == ("stale_lease", "lease")
        after = client.get(job.id)
        assert (after.status, after.attempt, after.result, after.progress, after.errors) == (
            "running",
            1,
            None,
            None,
            (),
        )
        assert after.raw == before.raw
        ok = raw.post(f"{path}/complete", json={"lease": lease, "result": {"n": 1}})
        assert ok.status_code == 200 and ok.json()["status"] == "succeeded"
        again = raw.post(f"{path}/complete", json={"lease": lease, "result": {"n": 2}})
        assert (again.status_code, again.json()["code"]) == (409, "stale_lease")
        assert client.get(job.id).result == {"n": 1}


def test_batch_claim_takes_several(c: Cluster) -> None:
    with c.client() as client, c.raw() as raw:
        items = client.submit_many([{"kind": "t_batch", "params": {"i": i}} for i in range(5)])
        assert all(item.accepted for item in items)
        first = _claim(raw, "t_batch", max_jobs=3)
        rest = _claim(raw, "t_batch", max_jobs=10)
        none = _claim(raw, "t_batch", max_jobs=10, wait_ms=0)
    assert (len(first), len(rest), none) == (3, 2, [])
    assert sorted(j["params"]["i"] for j in first + rest) == [0, 1, 2, 3, 4]
    assert {j["id"] for j in first + rest} == {item.id for item in items}
    assert all(j["attempt"] == 1 and j["max_attempts"] == 3 for j in first + rest)


def test_batch_answers_are_answered_one_by_one(c: Cluster) -> None:
    with c.client() as client, c.raw() as raw:
        ids = [client.submit("t_mixed", {"i": i}).id for i in range(4)]
        claimed = {j["id"]: j for j in _claim(raw, "t_mixed", max_jobs=4)}
        lease = [claimed[i]["lease"] for i in ids]
        outcomes = [
            {"id": ids[0], "lease": lease[0], "result": {"i": 0}, "progress": {"done": 1, "total": 1}},
            {
                "id": ids[1],
                "lease": lease[1],
                "fail": {"code": "ValueError", "message": "bad", "retryable": False},
            },
            {"id": ids[2], "lease": lease[2] + 7, "result": {"stale": True}},
            {"id": ids[3], "lease": lease[3], "hand_back": True},
        ]
        resp = raw.post("/workers/complete", json={"outcomes": outcomes})
        assert resp.status_code == 200, resp.text
        answers = resp.json()["outcomes"]
        assert [a["id"] for a in answers] == ids
        assert [a.get("status") for a in answers] == ["succeeded", "failed", None, "queued"]
        assert (answers[2]["problem"]["status"], answers[2]["problem"]["code"]) == (409, "stale_lease")
        jobs = [client.get(i) for i in ids]
        assert (jobs[0].status, jobs[0].result, jobs[0].progress) == (
            "succeeded",
            {"i": 0},
            faena.Progress(1, 1),
        )
        assert (jobs[1].status, jobs[1].error.message) == ("failed", "ValueError: bad")
        assert (jobs[2].status, jobs[2].result) == ("running", None)
        assert (jobs[3].status, jobs[3].errors) == ("queued", ())
        [again] = _claim(raw, "t_mixed")
        assert (again["id"], again["attempt"]) == (ids[3], 1)
        bad = raw.post("/workers/complete", json={"outcomes": [{"id": ids[2]}]})
        assert bad.status_code == 422, bad.text
        assert client.get(ids[2]).status == "running"


def test_hand_back_route_requeues_without_counting_the_attempt(c: Cluster) -> None:
    with c.client() as client, c.raw() as raw:
        job = client.submit("t_handback", {})
        [first] = _claim(raw, "t_handback")
        stale = raw.post(f"/jobs/{job.id}/hand-back", json={"lease": first["lease"] + 1})
        assert (stale.status_code, stale.json()["code"]) == (409, "stale_lease")
        back = raw.post(f"/jobs/{job.id}/hand-back", json={"lease": first["lease"]})
        assert back.status_code == 200, back.text
        assert (back.json()["status"], back.json()["id"]) == ("queued", job.id)
        [second] = _claim(raw, "t_handback")
        assert (second["id"], second["attempt"]) == (job.id, 1)
        assert second["lease"] != first["lease"]
        late = raw.post(f"/jobs/{job.id}/complete", json={"lease": first["lease"], "result": {}})
        assert late.status_code == 409


TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


def test_traceparent_reaches_the_handler(c: Cluster) -> None:
    sent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    worker = c.worker()
    seen: dict[str, str | None] = {}

    @worker.kind("t_trace")
    def trace(params: dict, ctx: faena.JobContext) -> dict:
        seen[params["name"]] = ctx.job.traceparent
        return {"trace_id": ctx.job.trace_id}

    worker.start()
    with c.client() as client:
        given = client.submit("t_trace", {"name": "given"}, traceparent=sent)
        made = client.submit("t_trace", {"name": "made"})
        [batched] = client.submit_many([{"kind": "t_trace", "params": {"name": "batch"}}], traceparent=sent)
        done = [client.wait(j, timeout=10) for j in (given.id, made.id, batched.id)]
    assert [j.status for j in done] == ["succeeded"] * 3
    assert seen["given"] == sent and done[0].result == {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}
    assert done[0].traceparent == sent and TRACEPARENT.fullmatch(sent)
    # A request without one gives its job none.
    assert seen["made"] is None and done[1].traceparent is None
    assert done[1].result == {"trace_id": None}
    assert seen["batch"] == sent, seen
