//! Every transition of the job state machine, on SQLite and on PostgreSQL, and what observes
//! it: each job's states in the event stream (`GET /events`) are exactly its transitions, in
//! order, once each; a long-poll started before a job ends answers with its final state; the
//! metrics count each submission, start, retry and end once.
//!
//! The transitions: into `queued` (submitted; a retry, a rescue, a hand-back with attempts
//! left), into `running` (started at its insert; claimed), and into every final state (from
//! the insert: a dependency had failed; from `queued`: cancelled, a dependency failed; from
//! `running`: succeeded, failed, timed out, cancelled, out of retries, interrupted, cancelled
//! when rescued or handed back with a cancel pending). Runs of another instance (rescued,
//! handed back) are played on the store directly, as that instance would write them: the
//! observer must see those commits like any other.
//!
//! Its own test binary: the metrics recorder is per process, and the two stores run one
//! after the other, compared by differences.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faena::Config;
use faena::job::{JobClass, JobId, JobKind, JobStatus, SubmitOptions};
use faena::kind::{Ctl, Kind, KindError};
use faena::store::{Claimed, NewJob, Outcome, RunEnd, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// A kind that does what its parameters say.
struct Scripted;

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
struct Script {
    /// `succeed`, `fail`, `retry` (a retryable failure) or `wait` (until stopped).
    then: String,
}

impl Kind for Scripted {
    type Params = Script;
    type Output = Value;

    fn name(&self) -> &str {
        "scripted"
    }

    fn class(&self) -> JobClass {
        JobClass::Io
    }

    fn summary(&self) -> &str {
        "Does what its parameters say (tests)."
    }

    async fn run(&self, p: Script, ctl: Ctl) -> Result<Value, KindError> {
        use faena::job::{JobError, JobErrorCode};
        match p.then.as_str() {
            "succeed" => Ok(json!({"done": true})),
            "fail" => Err(KindError::Failed(JobError::new(
                JobErrorCode::InputGone,
                "no",
            ))),
            "retry" => Err(KindError::Retry(JobError::new(
                JobErrorCode::Storage,
                "later",
            ))),
            _ => {
                ctl.stopped().await;
                Err(KindError::Stopped)
            }
        }
    }
}

/// A kind this server knows but does not run (`--kinds` leaves it out): its jobs are run, in
/// this test, by "another instance" writing to the store.
struct Remote;

impl Kind for Remote {
    type Params = Value;
    type Output = Value;

    fn name(&self) -> &str {
        "remote"
    }

    fn class(&self) -> JobClass {
        JobClass::Io
    }

    fn summary(&self) -> &str {
        "Run elsewhere (tests)."
    }

    async fn run(&self, p: Value, _: Ctl) -> Result<Value, KindError> {
        Ok(p)
    }
}

/// A server in this process, with the job events it streamed so far.
struct World {
    base: String,
    http: reqwest::Client,
    store: Arc<Store>,
    /// Each job's states, in stream order, from `job` events; deletions as `"deleted"`.
    seen: Arc<Mutex<HashMap<String, Vec<String>>>>,
    stop: CancellationToken,
    server: tokio::task::JoinHandle<Result<(), faena::app::AppError>>,
}

impl World {
    async fn start(database_url: &str) -> World {
        let mut config = Config::with_defaults(database_url);
        config.kinds = vec!["scripted".into()];
        config.retry_backoff_ms = 10;
        config.retry_backoff_max_ms = 20;
        let app = faena::Server::builder()
            .config(config)
            .kind(Scripted)
            .kind(Remote)
            .build()
            .await
            .expect("the server builds");
        let base = format!("http://{}", app.local_addr());
        let store = Arc::clone(app.runtime().store());
        let stop = CancellationToken::new();
        let server = tokio::spawn(app.run_until_stopped(stop.clone().cancelled_owned()));
        faena::kinds::fetch_urls::client::install_crypto();
        let http = reqwest::Client::new();
        let seen = Arc::new(Mutex::new(HashMap::<String, Vec<String>>::new()));
        let resp = http.get(format!("{base}/events")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let sink = Arc::clone(&seen);
        tokio::spawn(async move {
            let mut resp = resp;
            let mut text = String::new();
            while let Ok(Some(chunk)) = resp.chunk().await {
                text.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = text.find("\n\n") {
                    let block: String = text.drain(..end + 2).collect();
                    let field = |name: &str| {
                        block
                            .lines()
                            .find_map(|l| l.strip_prefix(name))
                            .map(str::to_owned)
                    };
                    let (Some(event), Some(data)) = (field("event: "), field("data: ")) else {
                        continue;
                    };
                    let data: Value = serde_json::from_str(&data).unwrap();
                    let id = data["id"].as_str().unwrap().to_owned();
                    let state = match event.as_str() {
                        "job" => data["status"].as_str().unwrap().to_owned(),
                        "deleted" => "deleted".to_owned(),
                        _ => continue,
                    };
                    sink.lock().unwrap().entry(id).or_default().push(state);
                }
            }
        });
        World {
            base,
            http,
            store,
            seen,
            stop,
            server,
        }
    }

    async fn submit(&self, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}/jobs", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{body}: {}", resp.status());
        resp.json().await.unwrap()
    }

    async fn cancel(&self, id: &str) {
        let resp = self
            .http
            .post(format!("{}/jobs/{id}/cancel", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202, "cancel {id}");
    }

    /// A long-poll of `id`, started now: its answer once the job is final.
    fn long_poll(&self, id: &str) -> tokio::task::JoinHandle<Value> {
        let url = format!("{}/jobs/{id}?wait_ms=30000", self.base);
        let http = self.http.clone();
        tokio::spawn(async move { http.get(url).send().await.unwrap().json().await.unwrap() })
    }

    async fn metrics(&self) -> BTreeMap<String, f64> {
        let text = (self.http.get(format!("{}/metrics", self.base)).send().await)
            .unwrap()
            .text()
            .await
            .unwrap();
        (text.lines())
            .filter(|l| l.starts_with("faena_job") && !l.contains("_bucket"))
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                Some((series.to_owned(), value.parse().ok()?))
            })
            .collect()
    }

    /// Waits until the stream showed `want` for every job of it (or fails after 30 s).
    async fn streamed(&self, want: &HashMap<String, Vec<&str>>) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let seen = self.seen.lock().unwrap().clone();
            let done = want
                .iter()
                .all(|(id, states)| seen.get(id).is_some_and(|s| s.len() >= states.len()));
            if done || tokio::time::Instant::now() > deadline {
                for (id, states) in want {
                    assert_eq!(
                        seen.get(id),
                        Some(&states.iter().map(|s| s.to_string()).collect()),
                        "job {id}"
                    );
                }
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Inserts a `remote` job straight into the store, as a submission elsewhere would.
    async fn insert_remote(&self, max_attempts: u32) -> JobId {
        let options = SubmitOptions {
            timeout_ms: 60_000,
            priority: 0,
            max_attempts,
            run_after: None,
        };
        let kind = JobKind::new("remote").unwrap();
        let job = self
            .store
            .insert(NewJob::new(kind, json!({}), options))
            .await
            .unwrap();
        job.id
    }

    /// Claims the queued `remote` job as another instance, for a lease that is over at once.
    async fn claim_elsewhere(&self, id: JobId) -> Claimed {
        let kinds = [JobKind::new("remote").unwrap()];
        let lease = Duration::from_millis(1);
        let claimed = self
            .store
            .claim(JobClass::Io, &kinds, 1, "elsewhere", lease)
            .await;
        let claimed = claimed.unwrap().pop().expect("the remote job is claimed");
        assert_eq!(claimed.job.id, id);
        claimed
    }

    /// Settles every expired run, as a rescuer would.
    async fn rescue(&self) {
        let later = faena::store::now() + chrono::Duration::seconds(5);
        self.store.rescue_expired(later, &[]).await.unwrap();
    }

    async fn stop(self) {
        self.stop.cancel();
        let _ = self.server.await;
    }
}

/// Series of `after` that differ from `before` (new ones count from 0), as differences.
fn delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    (after.iter())
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d != 0.0)
        .collect()
}

async fn every_transition(world: &World) {
    let s = |then: &str| json!({"kind": "scripted", "params": {"then": then}});
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(300)).to_rfc3339();
    let before = world.metrics().await;
    let mut want: HashMap<String, Vec<&str>> = HashMap::new();
    let mut polls = Vec::new();
    let id = |job: &Value| job["id"].as_str().unwrap().to_owned();

    // queued → running (claimed once due) → succeeded; it leaves the class drained.
    let due = world
        .submit(json!({"kind": "scripted", "run_after": soon, "params": {"then": "succeed"}}))
        .await;
    assert_eq!(due["status"], "queued");
    want.insert(id(&due), vec!["queued", "running", "succeeded"]);
    let done = world.long_poll(&id(&due)).await.unwrap();
    assert_eq!(done["status"], "succeeded", "{done}");

    // Started at its insert → succeeded.
    let started = world.submit(s("succeed")).await;
    assert_eq!(started["status"], "running", "{started}");
    polls.push((world.long_poll(&id(&started)), "succeeded"));
    want.insert(id(&started), vec!["running", "succeeded"]);
    // running → failed; → timed_out; → cancelled.
    let failed = world.submit(s("fail")).await;
    polls.push((world.long_poll(&id(&failed)), "failed"));
    want.insert(id(&failed), vec!["running", "failed"]);
    let slow = world
        .submit(json!({"kind": "scripted", "timeout_ms": 100, "params": {"then": "wait"}}))
        .await;
    polls.push((world.long_poll(&id(&slow)), "timed_out"));
    want.insert(id(&slow), vec!["running", "timed_out"]);
    let stopped = world.submit(s("wait")).await;
    polls.push((world.long_poll(&id(&stopped)), "cancelled"));
    world.cancel(&id(&stopped)).await;
    want.insert(id(&stopped), vec!["running", "cancelled"]);
    // running → queued (a retryable failure) → running → failed (out of attempts).
    let retried = world
        .submit(json!({"kind": "scripted", "max_attempts": 2, "params": {"then": "retry"}}))
        .await;
    polls.push((world.long_poll(&id(&retried)), "failed"));
    want.insert(id(&retried), vec!["running", "queued", "running", "failed"]);
    // Inserted failed: its dependency had failed.
    let orphan = world
        .submit(
            json!({"kind": "scripted", "depends_on": [id(&failed)], "params": {"then": "succeed"}}),
        )
        .await;
    assert_eq!(orphan["status"], "failed");
    want.insert(id(&orphan), vec!["failed"]);
    // queued → cancelled; queued (waiting) → failed when its dependency is cancelled.
    let parked = world
        .submit(json!({"kind": "scripted", "run_after": later, "params": {"then": "succeed"}}))
        .await;
    let dependent = world
        .submit(
            json!({"kind": "scripted", "depends_on": [id(&parked)], "params": {"then": "succeed"}}),
        )
        .await;
    polls.push((world.long_poll(&id(&parked)), "cancelled"));
    polls.push((world.long_poll(&id(&dependent)), "failed"));
    world.cancel(&id(&parked)).await;
    want.insert(id(&parked), vec!["queued", "cancelled"]);
    want.insert(id(&dependent), vec!["queued", "failed"]);

    // Runs of another instance, played on the store. Rescued with attempts left: queued;
    // without: failed; with a cancel pending: cancelled. Handed back: queued again (the
    // attempt does not count); with a cancel pending: cancelled.
    let handed_back = world.insert_remote(3).await;
    let run = world.claim_elsewhere(handed_back).await;
    let now = faena::store::now();
    assert_eq!(
        world
            .store
            .finish(RunEnd::new(run, Outcome::Requeue, None, now))
            .await
            .unwrap(),
        Some(JobStatus::Queued)
    );
    let run = world.claim_elsewhere(handed_back).await;
    world.cancel(&handed_back.to_string()).await;
    polls.push((world.long_poll(&handed_back.to_string()), "cancelled"));
    assert_eq!(
        world
            .store
            .finish(RunEnd::new(run, Outcome::Requeue, None, now))
            .await
            .unwrap(),
        Some(JobStatus::Cancelled)
    );
    want.insert(
        handed_back.to_string(),
        vec!["queued", "running", "queued", "running", "cancelled"],
    );

    let requeued = world.insert_remote(3).await;
    world.claim_elsewhere(requeued).await;
    let out_of_attempts = world.insert_remote(1).await;
    world.claim_elsewhere(out_of_attempts).await;
    let rescued_cancel = world.insert_remote(3).await;
    world.claim_elsewhere(rescued_cancel).await;
    world.cancel(&rescued_cancel.to_string()).await;
    polls.push((world.long_poll(&out_of_attempts.to_string()), "failed"));
    polls.push((world.long_poll(&rescued_cancel.to_string()), "cancelled"));
    world.rescue().await;
    want.insert(requeued.to_string(), vec!["queued", "running", "queued"]);
    want.insert(
        out_of_attempts.to_string(),
        vec!["queued", "running", "failed"],
    );
    want.insert(
        rescued_cancel.to_string(),
        vec!["queued", "running", "cancelled"],
    );
    // A final job deleted.
    for (poll, status) in polls {
        let job = tokio::time::timeout(Duration::from_secs(30), poll)
            .await
            .expect("every long-poll answers")
            .unwrap();
        assert_eq!(job["status"], status, "{job}");
    }
    let resp = world
        .http
        .delete(format!("{}/jobs/{}", world.base, id(&started)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    want.get_mut(&id(&started)).unwrap().push("deleted");

    world.streamed(&want).await;

    // Each submission, start, retry and end counted once.
    let after = world.metrics().await;
    let counted = delta(&before, &after);
    let n = |series: &str| counted.get(series).copied().unwrap_or(0.0);
    let finished = |kind: &str, status: &str| {
        n(&format!(
            "faena_jobs_finished_total{{kind=\"{kind}\",status=\"{status}\"}}"
        ))
    };
    assert_eq!(
        n("faena_jobs_submitted_total{kind=\"scripted\"}"),
        9.0,
        "{counted:#?}"
    );
    assert_eq!(
        n("faena_jobs_submitted_total{kind=\"remote\"}"),
        4.0,
        "{counted:#?}"
    );
    assert_eq!(finished("scripted", "succeeded"), 2.0, "{counted:#?}");
    assert_eq!(
        finished("scripted", "failed"),
        4.0,
        "fail, retried, orphan, dependent: {counted:#?}"
    );
    assert_eq!(finished("scripted", "timed_out"), 1.0, "{counted:#?}");
    assert_eq!(finished("scripted", "cancelled"), 2.0, "{counted:#?}");
    assert_eq!(finished("remote", "failed"), 1.0, "{counted:#?}");
    assert_eq!(finished("remote", "cancelled"), 2.0, "{counted:#?}");
    assert_eq!(
        n("faena_job_retries_total{kind=\"scripted\"}"),
        1.0,
        "{counted:#?}"
    );
    // Made final by another write: the dependent, and two rescued runs.
    assert_eq!(n("faena_jobs_settled_total"), 3.0, "{counted:#?}");
    // Runs started: 7 of scripted (one twice), 5 of remote (one twice).
    assert_eq!(
        n("faena_job_queue_wait_seconds_count{kind=\"scripted\"}"),
        7.0,
        "{counted:#?}"
    );
    assert_eq!(
        n("faena_job_queue_wait_seconds_count{kind=\"remote\"}"),
        5.0,
        "{counted:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transition_is_observed_once_on_both_stores() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/faena.db", dir.path().display());
    let world = World::start(&url).await;
    every_transition(&world).await;
    world.stop().await;

    let Some(db) = faena_testing::PgScratch::create("every_transition_on_postgres").await else {
        return;
    };
    let world = World::start(&db.url).await;
    every_transition(&world).await;
    world.stop().await;
}
