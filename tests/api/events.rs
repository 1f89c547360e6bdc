//! Event streams: a job's lifecycle arrives in order, filters hold, the stream of one job
//! ends after its final state, `Last-Event-ID` resumes exactly, an id that cannot be resumed
//! gets `reset`, and API keys see only their own jobs.

use std::time::Duration;

use faena::job::{Job, JobId};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, json_of, problem};
use crate::sse::{Sse, SseStream};

const WITHIN: Duration = Duration::from_secs(20);

async fn open(app: &TestApp, path: &str, last_id: Option<&str>, key: Option<&str>) -> SseStream {
    let mut req = app.client.get(app.url(path));
    if let Some(id) = last_id {
        req = req.header("last-event-id", id);
    }
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    SseStream::new(req.send().await.expect("the server answers"))
}

fn of(e: &Sse, id: JobId) -> bool {
    e.data["id"] == id.to_string()
}

fn final_of(id: JobId) -> impl Fn(&Sse) -> bool {
    move |e| of(e, id) && e.event == "job" && e.data["finished_at"].is_string()
}

/// The sequence number in an event id (`{process}-{seq}`).
fn seq(e: &Sse) -> u64 {
    let id = e.id.as_deref().expect("every event has an id");
    id.rsplit('-').next().unwrap().parse().expect("a number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobs_lifecycle_arrives_in_order() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let mut all = open(&app, "/events", None, None).await;
    let mut sleeps = open(&app, "/events?kind=sleep", None, None).await;
    let mut ended = open(&app, "/events?status=succeeded", None, None).await;
    let primes = app
        .submit_ok(&json!({"kind": "count_primes", "params": {"start": 0, "end": 100000}}))
        .await;
    let job = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 300}}))
        .await;

    let events = all.until(WITHIN, final_of(job.id)).await;
    let mine: Vec<&Sse> = events.iter().filter(|e| of(e, job.id)).collect();
    let states: Vec<&str> = mine
        .iter()
        .filter(|e| e.event == "job")
        .map(|e| e.data["status"].as_str().unwrap())
        .collect();
    // Submitted (queued, or running when its insert started it), then succeeded.
    assert!(
        states == ["running", "succeeded"] || states == ["queued", "running", "succeeded"],
        "{states:?}"
    );
    let last = mine.last().unwrap();
    assert_eq!(last.data["attempt"], 1);
    assert!(last.data.get("params").is_none(), "no params in events");
    // Ids increase across the stream, whatever the job.
    let seqs: Vec<u64> = events.iter().map(seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // Filters: only sleep events; only `succeeded` job events.
    let sleeps = sleeps.until(WITHIN, final_of(job.id)).await;
    assert!(sleeps.iter().all(|e| of(e, job.id)), "{sleeps:?}");
    let ended = ended.until(WITHIN, final_of(job.id)).await;
    assert!(
        ended
            .iter()
            .all(|e| e.event == "job" && e.data["status"] == "succeeded")
    );
    let ended_ids: Vec<&str> = ended
        .iter()
        .map(|e| e.data["id"].as_str().unwrap())
        .collect();
    assert_eq!(ended_ids, [primes.id.to_string(), job.id.to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_jobs_stream_starts_with_its_state_and_ends_after_the_final_one() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let job = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 400}}))
        .await;
    let mut stream = open(&app, &format!("/jobs/{}/events", job.id), None, None).await;
    let mut got = Vec::new();
    while let Some(e) = stream.next_within(WITHIN).await {
        got.push(e);
    }
    let first = got.first().expect("the current state first");
    assert_eq!(first.event, "job");
    assert!(["queued", "running"].contains(&first.data["status"].as_str().unwrap()));
    let last = got.last().unwrap();
    assert_eq!(
        (last.event.as_str(), &last.data["status"]),
        ("job", &json!("succeeded"))
    );
    assert!(got.iter().all(|e| of(e, job.id)));

    // A final job: its state, then the end.
    let mut again = open(&app, &format!("/jobs/{}/events", job.id), None, None).await;
    let only = again.next_within(WITHIN).await.unwrap();
    assert_eq!(only.data["status"], "succeeded");
    assert_eq!(only.data["finished_at"], last.data["finished_at"]);
    assert!(again.next_within(WITHIN).await.is_none());
    // Resuming from its first event after the job ended: what came after it, to the end.
    let mut resumed = open(
        &app,
        &format!("/jobs/{}/events", job.id),
        first.id.as_deref(),
        None,
    )
    .await;
    let mut replay = Vec::new();
    while let Some(e) = resumed.next_within(WITHIN).await {
        replay.push(e);
    }
    assert_eq!(
        replay.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        got[1..].iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        "the events after the first, final one included"
    );
    // Resuming the stream of a final job with nothing left: 204 stops an EventSource from
    // reconnecting.
    let resp = app
        .client
        .get(app.url(&format!("/jobs/{}/events", job.id)))
        .header("last-event-id", only.id.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    // Unknown job, resuming or not: 404 problem.
    for resume in [None, only.id.as_deref()] {
        let mut req = app
            .client
            .get(app.url(&format!("/jobs/{}/events", JobId::new())));
        if let Some(id) = resume {
            req = req.header("last-event-id", id);
        }
        problem(
            req.send().await.unwrap(),
            StatusCode::NOT_FOUND,
            "job_not_found",
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_job_ends_its_stream() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let job = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 60000}}))
        .await;
    let mut stream = open(&app, &format!("/jobs/{}/events", job.id), None, None).await;
    assert_eq!(stream.next_within(WITHIN).await.unwrap().event, "job");
    let mut all = open(&app, "/events", None, None).await;
    app.cancel(job.id).await;
    assert_eq!(app.delete(job.id).await.status(), StatusCode::NO_CONTENT);
    let rest = stream
        .until(WITHIN, |e| {
            e.event == "job" && e.data["status"] == "cancelled"
        })
        .await;
    assert_eq!(rest.last().unwrap().data["id"], job.id.to_string());
    assert!(
        stream.next_within(WITHIN).await.is_none(),
        "ends after the final state"
    );
    let seen = all.until(WITHIN, |e| e.event == "deleted").await;
    assert_eq!(seen.last().unwrap().data, json!({"id": job.id}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_event_id_resumes_exactly_and_an_unknown_one_resets() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    // A reference stream that stays connected throughout.
    let mut reference = open(&app, "/events", None, None).await;
    let mut client = open(&app, "/events", None, None).await;
    let a = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 0}}))
        .await;
    let seen = client.until(WITHIN, final_of(a.id)).await;
    let last_id = seen.last().unwrap().id.clone().unwrap();
    drop(client);
    // While the client is away.
    let mut missed: Vec<Job> = Vec::new();
    for _ in 0..3 {
        missed.push(
            app.submit_ok(&json!({"kind": "sleep", "params": {"ms": 0}}))
                .await,
        );
    }
    let b = missed.last().unwrap().id;
    let reference_events = reference.until(WITHIN, final_of(b)).await;
    let after: Vec<&Sse> = reference_events
        .iter()
        .skip_while(|e| e.id.as_deref() != Some(&last_id))
        .skip(1)
        .collect();
    assert!(!after.is_empty());

    let mut resumed = open(&app, "/events", Some(&last_id), None).await;
    let replay = resumed.until(WITHIN, final_of(b)).await;
    let want: Vec<(String, Option<String>)> = after
        .iter()
        .map(|e| (e.event.clone(), e.id.clone()))
        .collect();
    let got: Vec<(String, Option<String>)> = replay
        .iter()
        .map(|e| (e.event.clone(), e.id.clone()))
        .collect();
    assert_eq!(got, want, "exactly the events after the last one seen");
    for job in &missed {
        assert!(
            replay
                .iter()
                .any(|e| of(e, job.id) && e.data["status"] == "succeeded")
        );
    }

    // An id from another process (or garbage): `reset` first, then live events.
    let mut reset = open(&app, "/events", Some("0badc0de-7"), None).await;
    let first = reset.next_within(WITHIN).await.unwrap();
    assert_eq!((first.event.as_str(), &first.data), ("reset", &json!({})));
    let c = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 0}}))
        .await;
    let live = reset.until(WITHIN, final_of(c.id)).await;
    assert!(live.iter().all(|e| of(e, c.id)));
    // Resuming from the reset's id misses nothing either.
    let reset_id = first.id.unwrap();
    let mut from_reset = open(&app, "/events", Some(&reset_id), None).await;
    let again = from_reset.until(WITHIN, final_of(c.id)).await;
    assert_eq!(
        again.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        live.iter().map(|e| e.id.clone()).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_see_only_their_own_events() {
    const ALICE: &str = "alice-key-0123456789";
    const BOB: &str = "bob-key-0123456789ab";
    let Some(app) = TestApp::spawn_with(|c| c.api_keys = vec![ALICE.into(), BOB.into()]).await
    else {
        return;
    };
    let resp = app.client.get(app.url("/events")).send().await.unwrap();
    problem(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let mut alice = open(&app, "/events", None, Some(ALICE)).await;
    let submit = |key: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .client
                .post(app.url("/jobs"))
                .bearer_auth(key)
                .json(&json!({"kind": "sleep", "params": {"ms": 0}}))
                .send()
                .await
                .unwrap();
            json_of::<Job>(resp, StatusCode::ACCEPTED).await
        }
    };
    let bobs = submit(BOB).await;
    let alices = submit(ALICE).await;
    let seen = alice.until(WITHIN, final_of(alices.id)).await;
    assert!(seen.iter().all(|e| of(e, alices.id)), "{seen:?}");
    // Bob's job's stream is not Alice's to open.
    let resp = app
        .client
        .get(app.url(&format!("/jobs/{}/events", bobs.id)))
        .bearer_auth(ALICE)
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::NOT_FOUND, "job_not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_past_the_cap_get_503() {
    let Some(app) = TestApp::spawn_with(|c| c.max_event_streams = 2).await else {
        return;
    };
    let _a = open(&app, "/events", None, None).await;
    let _b = open(&app, "/events", None, None).await;
    let resp = app.client.get(app.url("/events")).send().await.unwrap();
    problem(resp, StatusCode::SERVICE_UNAVAILABLE, "overloaded").await;
    drop(_a);
    // The slot comes back once the server sees the client gone: at its next write.
    app.submit_ok(&json!({"kind": "sleep", "params": {"ms": 0}}))
        .await;
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let resp = app.client.get(app.url("/events")).send().await.unwrap();
        if resp.status() == StatusCode::OK {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
