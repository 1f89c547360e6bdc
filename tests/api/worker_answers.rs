//! A worker's answers beyond one job at a time: `POST /workers/complete` (many answers, each
//! answered on its own), `POST /jobs/{id}/hand-back` (a job given back unrun, its attempt
//! uncounted), and answers racing under one lease (exactly one is recorded).

use std::time::Duration;

use faena::job::{JobErrorCode, JobId, JobStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_of, problem_at};
use crate::workers::{app, app_without_sweep, claim, claim_one, lease, post, resize};

fn id_of(claimed: &Value) -> JobId {
    claimed["id"].as_str().unwrap().parse().unwrap()
}

/// Submits `n` jobs of `resize` with `extra` options and claims them all.
async fn claimed(app: &TestApp, n: usize, extra: Value) -> Vec<Value> {
    for _ in 0..n {
        app.submit_ok(&resize(extra.clone())).await;
    }
    let jobs = claim(app, n as u32, 0).await;
    assert_eq!(jobs.len(), n, "{jobs:?}");
    jobs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_answers_in_one_request_are_each_recorded_or_refused_on_their_own() {
    let Some(app) = app().await else { return };
    let jobs = claimed(&app, 5, json!({"max_attempts": 2})).await;
    let answers = json!({"outcomes": [
        {"id": jobs[0]["id"], "lease": lease(&jobs[0]), "result": null, "progress": {"done": 2, "total": 2}},
        {"id": jobs[1]["id"], "lease": lease(&jobs[1]), "fail": {"code": "IOError", "message": "disk full"}},
        {"id": jobs[2]["id"], "lease": lease(&jobs[2]), "fail": {"code": "ValueError", "message": "bad", "retryable": false}},
        {"id": jobs[3]["id"], "lease": lease(&jobs[3]) + 1, "result": {"never": "recorded"}},
        {"id": jobs[4]["id"], "lease": lease(&jobs[4]), "hand_back": true},
    ]});
    let answered: Value = json_of(
        post(&app, "/workers/complete", &answers).await,
        StatusCode::OK,
    )
    .await;
    let outcomes = answered["outcomes"].as_array().unwrap();
    let ids: Vec<&Value> = outcomes.iter().map(|o| &o["id"]).collect();
    let sent: Vec<&Value> = jobs.iter().map(|j| &j["id"]).collect();
    assert_eq!(ids, sent, "answered in the order sent");
    let statuses: Vec<&Value> = outcomes.iter().map(|o| &o["status"]).collect();
    assert_eq!(
        statuses,
        [
            &json!("succeeded"),
            &json!("queued"),
            &json!("failed"),
            &Value::Null,
            &json!("queued")
        ]
    );
    let stale = &outcomes[3]["problem"];
    assert_eq!(
        (&stale["status"], &stale["code"], &stale["field"]),
        (&json!(409), &json!("stale_lease"), &json!("lease"))
    );
    assert!(
        outcomes
            .iter()
            .enumerate()
            .all(|(i, o)| (i == 3) == o.get("problem").is_some())
    );

    // Each job as its answer left it.
    let done = app.job(id_of(&jobs[0])).await;
    assert_eq!(done.status, JobStatus::Succeeded);
    // A `null` result reads as no result: `"result": null`.
    assert_eq!(
        done.result.map(|r| r.value()).unwrap_or_default(),
        Value::Null
    );
    assert_eq!(done.progress.map(|p| (p.done, p.total)), Some((2, 2)));
    let retried = app.job(id_of(&jobs[1])).await;
    assert_eq!((retried.status, retried.attempt), (JobStatus::Queued, 1));
    assert_eq!(retried.errors.len(), 1);
    assert_eq!(retried.errors[0].message, "IOError: disk full");
    let failed = app.job(id_of(&jobs[2])).await;
    assert_eq!(failed.status, JobStatus::Failed);
    let error = failed.error.unwrap();
    assert_eq!(
        (error.code, error.message.as_str()),
        (JobErrorCode::WorkerFailed, "ValueError: bad")
    );
    let untouched = app.job(id_of(&jobs[3])).await;
    assert_eq!(
        (untouched.status, untouched.result),
        (JobStatus::Running, None)
    );
    let handed_back = app.job(id_of(&jobs[4])).await;
    assert_eq!(handed_back.status, JobStatus::Queued);
    assert!(handed_back.errors.is_empty(), "{:?}", handed_back.errors);

    // The retried and the handed-back jobs are claimed again: attempt 2 and attempt 1.
    let again = claim(&app, 10, 5_000).await;
    let mut attempts: Vec<(String, u64)> = (again.iter())
        .map(|j| {
            (
                j["id"].as_str().unwrap().into(),
                j["attempt"].as_u64().unwrap(),
            )
        })
        .collect();
    while attempts.len() < 2 {
        let more = claim(&app, 10, 5_000).await;
        attempts.extend(more.iter().map(|j| {
            (
                j["id"].as_str().unwrap().into(),
                j["attempt"].as_u64().unwrap(),
            )
        }));
    }
    attempts.sort();
    let mut want = vec![
        (jobs[1]["id"].as_str().unwrap().to_string(), 2),
        (jobs[4]["id"].as_str().unwrap().to_string(), 1),
    ];
    want.sort();
    assert_eq!(attempts, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_batch_an_answer_past_the_deadline_times_its_job_out() {
    let Some(app) = app_without_sweep().await else {
        return;
    };
    app.submit_ok(&resize(json!({"timeout_ms": 200}))).await;
    app.submit_ok(&resize(json!({"timeout_ms": 60_000}))).await;
    let jobs = claim(&app, 2, 0).await;
    assert_eq!(jobs.len(), 2);
    let deadline = |j: &Value| -> chrono::DateTime<chrono::Utc> {
        serde_json::from_value(j["deadline_at"].clone()).unwrap()
    };
    let (short, long) = match deadline(&jobs[0]) < deadline(&jobs[1]) {
        true => (&jobs[0], &jobs[1]),
        false => (&jobs[1], &jobs[0]),
    };
    let left = (deadline(short) - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(20)).await;
    let answers = json!({"outcomes": [
        {"id": short["id"], "lease": lease(short), "result": 1},
        {"id": long["id"], "lease": lease(long), "result": 2},
    ]});
    let answered: Value = json_of(
        post(&app, "/workers/complete", &answers).await,
        StatusCode::OK,
    )
    .await;
    let outcomes = &answered["outcomes"];
    assert_eq!(
        outcomes[0]["problem"]["code"], "deadline_passed",
        "{outcomes}"
    );
    assert_eq!(outcomes[1]["status"], "succeeded", "{outcomes}");
    let timed_out = app.job(id_of(short)).await;
    assert_eq!(timed_out.status, JobStatus::TimedOut);
    assert_eq!(timed_out.result, None);
    let done = app.job(id_of(long)).await;
    assert_eq!(done.result.map(|r| r.value()), Some(json!(2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_handed_back_is_queued_again_its_attempt_uncounted() {
    let Some(app) = app().await else { return };
    let job = app.submit_ok(&resize(json!({"max_attempts": 1}))).await;
    let first = claim_one(&app).await;
    assert_eq!(first["attempt"], 1);
    let path = format!("/jobs/{}/hand-back", job.id);
    let back = post(&app, &path, &json!({"lease": lease(&first)})).await;
    let back: faena::job::Job = json_of(back, StatusCode::OK).await;
    assert_eq!(back.status, JobStatus::Queued);
    // The same lease again: stale, nothing changes.
    problem_at(
        post(&app, &path, &json!({"lease": lease(&first)})).await,
        StatusCode::CONFLICT,
        "stale_lease",
        "lease",
    )
    .await;
    assert_eq!(app.job(job.id).await.status, JobStatus::Queued);
    // Its only attempt is still to come: claimed again as attempt 1, and it can still fail
    // for real.
    let second = claim_one(&app).await;
    assert_eq!(
        (second["attempt"].as_u64(), second["id"].as_str()),
        (Some(1), Some(job.id.to_string().as_str()))
    );
    assert!(lease(&second) > lease(&first));
    let fail = json!({"lease": lease(&second), "code": "Boom", "message": "x"});
    let failed: faena::job::Job = json_of(
        post(&app, &format!("/jobs/{}/fail", job.id), &fail).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!((failed.status, failed.attempt), (JobStatus::Failed, 1));

    // With a cancel pending, a hand-back cancels the job instead.
    let job = app.submit_ok(&resize(json!({}))).await;
    let held = claim_one(&app).await;
    let cancel = post(&app, &format!("/jobs/{}/cancel", job.id), &json!({})).await;
    assert_eq!(cancel.status(), StatusCode::ACCEPTED);
    let path = format!("/jobs/{}/hand-back", job.id);
    let back: faena::job::Job = json_of(
        post(&app, &path, &json!({"lease": lease(&held)})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(back.status, JobStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_batches_are_refused_whole_with_the_answer_at_fault() {
    let Some(app) = app().await else { return };
    let jobs = claimed(&app, 2, json!({})).await;
    let (a, b) = (&jobs[0], &jobs[1]);
    let refused = [
        (json!({"outcomes": []}), "outcomes"),
        (
            json!({"outcomes": [{"id": a["id"], "lease": lease(a), "result": 1}, {"id": a["id"], "lease": lease(a), "result": 2}]}),
            "outcomes[1].id",
        ),
        (
            json!({"outcomes": [{"id": a["id"], "lease": lease(a), "result": 1, "fail": {"code": "E", "message": ""}}]}),
            "outcomes[0]",
        ),
        (
            json!({"outcomes": [{"id": a["id"], "lease": lease(a)}]}),
            "outcomes[0]",
        ),
        (
            json!({"outcomes": [{"id": a["id"], "lease": lease(a), "hand_back": false}]}),
            "outcomes[0]",
        ),
        (
            json!({"outcomes": [{"id": a["id"], "lease": lease(a), "result": 1}, {"id": b["id"], "lease": lease(b), "fail": {"code": "9lives", "message": ""}}]}),
            "outcomes[1].fail.code",
        ),
        (
            json!({"outcomes": [{"id": b["id"], "lease": lease(b), "result": 1, "progress": {"done": 3, "total": 2}}]}),
            "outcomes[0].progress.done",
        ),
        (
            json!({"outcomes": [{"id": b["id"], "lease": "one", "result": 1}]}),
            "outcomes[0].lease",
        ),
    ];
    for (body, field) in refused {
        let resp = post(&app, "/workers/complete", &body).await;
        problem_at(
            resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            field,
        )
        .await;
    }
    let many: Vec<Value> = (0..1001)
        .map(|_| json!({"id": a["id"], "lease": lease(a), "result": 1}))
        .collect();
    let resp = post(&app, "/workers/complete", &json!({"outcomes": many})).await;
    problem_at(
        resp,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        "outcomes",
    )
    .await;
    // Nothing was recorded.
    for j in [a, b] {
        assert_eq!(app.job(id_of(j)).await.status, JobStatus::Running);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_answers_racing_under_one_lease_exactly_one_is_recorded() {
    let Some(app) = app().await else { return };
    for round in 0..5 {
        let job = app.submit_ok(&resize(json!({}))).await;
        let held = claim_one(&app).await;
        let l = lease(&held);
        let path = format!("/jobs/{}/complete", job.id);
        // Sent together, they reach the store's writer together (one transaction's batch).
        let answers = (0..16).map(|i| {
            let (client, url) = (app.client.clone(), app.url(&path));
            async move {
                let resp = client
                    .post(url)
                    .json(&json!({"lease": l, "result": {"answer": i}}))
                    .send()
                    .await
                    .unwrap();
                (i, resp.status(), resp.text().await.unwrap())
            }
        });
        let answered = futures_util::future::join_all(answers).await;
        let won: Vec<_> = answered
            .iter()
            .filter(|(_, status, _)| *status == StatusCode::OK)
            .collect();
        assert_eq!(won.len(), 1, "round {round}: {answered:?}");
        assert!(
            (answered.iter()).all(|(_, s, body)| *s == StatusCode::OK
                || (*s == StatusCode::CONFLICT && body.contains("stale_lease"))),
            "{answered:?}"
        );
        let stored = app.job(job.id).await.result.map(|r| r.value());
        assert_eq!(stored, Some(json!({"answer": won[0].0})), "round {round}");
    }
}
