//! `faena bench --workers W`: the remote workers' protocol under load, from Rust. First it
//! fills the queue with N jobs of a worker kind (`POST /jobs/batch`, 1000 a request, from the
//! C clients); then W workers drain it, each claiming up to `--claim` jobs a request
//! (`POST /workers/claim`) and answering for all of them in one (`POST /workers/complete`), and
//! the drain rate is printed. Last, with the queue empty, one worker long-polls while jobs are
//! submitted one at a time: the time from sending a job's submission to the claim that hands
//! it over (claim-to-start latency) is printed as percentiles.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use super::report::percentile;
use super::{BenchArgs, BenchError};

/// Jobs of one fill request.
const FILL_BATCH: u64 = 1000;

/// Runs the drain benchmark of `args` (its `workers` set) and prints its report.
pub(super) async fn run(args: &BenchArgs, job: Value, workers: u64) -> Result<(), BenchError> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host((args.clients + workers) as usize)
        .build()?;
    let url = args.url[0].clone();

    let started = Instant::now();
    fill(&http, &url, &job, args.jobs, args.clients.max(1)).await?;
    let filled = started.elapsed();

    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers.max(1) {
        let (http, url, done) = (http.clone(), url.clone(), Arc::clone(&done));
        let (kind, claim, total) = (args.kind.clone(), args.claim, args.jobs);
        tasks.push(tokio::spawn(async move {
            let name = format!("bench-{w}");
            let claim_body = serde_json::to_vec(
                &json!({"worker": name, "kinds": [kind], "max": claim, "wait_ms": 1_000}),
            )?;
            let mut requests = 0_u64;
            while done.load(Ordering::Relaxed) < total {
                requests += 2;
                let recorded = claim_and_answer(&http, &url, &claim_body).await?;
                done.fetch_add(recorded, Ordering::Relaxed);
            }
            Ok::<_, BenchError>(requests)
        }));
    }
    let mut requests = 0;
    for task in tasks {
        requests += task.await.expect("bench worker panicked")?;
    }
    let drained = started.elapsed();
    let n = done.load(Ordering::Relaxed);

    let latencies = claim_to_start(&http, &url, &job, &args.kind, args.latency_samples).await?;

    let rate = |n: u64, d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    println!(
        "filled {} {} jobs in {:.2} s ({:.0} jobs/s, batches of {FILL_BATCH}, {} clients)",
        args.jobs,
        args.kind,
        filled.as_secs_f64(),
        rate(args.jobs, filled),
        args.clients.max(1),
    );
    println!(
        "drained {n} jobs in {:.2} s: {:.0} jobs/s ({} workers, claims of up to {}, {requests} requests)",
        drained.as_secs_f64(),
        rate(n, drained),
        workers.max(1),
        args.claim,
    );
    if !latencies.is_empty() {
        println!(
            "claim-to-start, long-polling worker, {} jobs submitted one at a time: p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            latencies.len(),
            percentile(&latencies, 50.0),
            percentile(&latencies, 90.0),
            percentile(&latencies, 99.0),
            percentile(&latencies, 100.0),
        );
    }
    Ok(())
}

/// A claimed job, as much of it as a no-op worker reads (the rest of the claim is skipped
/// unread, not built into values: the client should not be what the benchmark measures).
#[derive(Deserialize)]
struct Held<'a> {
    #[serde(borrow)]
    id: &'a str,
    lease: i64,
}

#[derive(Deserialize)]
struct Claimed<'a> {
    #[serde(borrow)]
    jobs: Vec<Held<'a>>,
}

/// One answer's verdict: its `status` when it was recorded.
#[derive(Deserialize)]
struct Verdict<'a> {
    #[serde(borrow, default)]
    status: Option<&'a str>,
}

#[derive(Deserialize)]
struct Verdicts<'a> {
    #[serde(borrow)]
    outcomes: Vec<Verdict<'a>>,
}

/// One claim (the serialised `claim_body`) and, if it took jobs, one request completing them
/// all: how many were recorded (all, or an error).
async fn claim_and_answer(
    http: &reqwest::Client,
    url: &str,
    claim_body: &[u8],
) -> Result<u64, BenchError> {
    let claimed = post_raw(http, url, "/workers/claim", claim_body.to_vec()).await?;
    let Claimed { jobs } = serde_json::from_slice(&claimed)?;
    if jobs.is_empty() {
        return Ok(0);
    }
    let mut body = String::with_capacity(32 + jobs.len() * 80);
    body.push_str(r#"{"outcomes":["#);
    for (i, job) in jobs.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        let id = serde_json::to_string(job.id)?;
        let _ = write!(
            body,
            r#"{{"id":{id},"lease":{},"result":{{"ok":true}}}}"#,
            job.lease
        );
    }
    body.push_str("]}");
    let answered = post_raw(http, url, "/workers/complete", body.into_bytes()).await?;
    let Verdicts { outcomes } = serde_json::from_slice(&answered)?;
    let recorded = outcomes
        .iter()
        .filter(|o| o.status == Some("succeeded"))
        .count();
    if recorded != jobs.len() {
        return Err(BenchError::Status {
            status: 200,
            body: format!(
                "{recorded} of {} answers recorded: {}",
                jobs.len(),
                String::from_utf8_lossy(&answered)
            ),
        });
    }
    Ok(recorded as u64)
}

/// POSTs the JSON `body` to `path`; the answer's bytes, which must be a 2xx.
async fn post_raw(
    http: &reqwest::Client,
    url: &str,
    path: &str,
    body: Vec<u8>,
) -> Result<bytes::Bytes, BenchError> {
    let resp = (http.post(format!("{url}{path}")))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await?;
    let status = resp.status();
    let bytes = resp.bytes().await?;
    if !status.is_success() {
        return Err(BenchError::Status {
            status: status.as_u16(),
            body: String::from_utf8_lossy(&bytes[..bytes.len().min(2000)]).into_owned(),
        });
    }
    Ok(bytes)
}

/// Submits `n` copies of `job` in batches, from `clients` concurrent clients.
async fn fill(
    http: &reqwest::Client,
    url: &str,
    job: &Value,
    n: u64,
    clients: u64,
) -> Result<(), BenchError> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, url, job, next) = (
            http.clone(),
            url.to_string(),
            job.clone(),
            Arc::clone(&next),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let k = next.fetch_add(FILL_BATCH, Ordering::Relaxed);
                if k >= n {
                    return Ok::<_, BenchError>(());
                }
                let size = FILL_BATCH.min(n - k) as usize;
                let body = json!({"jobs": vec![job.clone(); size]});
                let answer = post(&http, &url, "/jobs/batch", &body).await?;
                if answer["rejected"] != 0 {
                    let mut body = answer.to_string();
                    body.truncate(2000);
                    return Err(BenchError::Status { status: 200, body });
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("bench client panicked")?;
    }
    Ok(())
}

/// With the queue empty, `samples` jobs submitted one at a time while a worker long-polls:
/// for each, the time from sending its submission to receiving the claim that holds it.
async fn claim_to_start(
    http: &reqwest::Client,
    url: &str,
    job: &Value,
    kind: &str,
    samples: u64,
) -> Result<Vec<Duration>, BenchError> {
    let mut times = Vec::with_capacity(samples as usize);
    for _ in 0..samples {
        let waiting = {
            let (http, url, kind) = (http.clone(), url.to_string(), kind.to_string());
            tokio::spawn(async move {
                let jobs = claim_jobs(&http, &url, "bench-latency", &kind, 1, 20_000).await;
                (jobs, Instant::now())
            })
        };
        // Let the claim reach the server and find the queue empty.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let sent = Instant::now();
        post(http, url, "/jobs", job).await?;
        let (jobs, claimed) = waiting.await.expect("bench worker panicked");
        let jobs = jobs?;
        let Some(held) = jobs.first() else {
            return Err(BenchError::Status {
                status: 200,
                body: "a long-polling claim ended without the job submitted".into(),
            });
        };
        times.push(claimed.saturating_duration_since(sent));
        let done = json!({"lease": held["lease"], "result": {"ok": true}});
        let path = format!("/jobs/{}/complete", held["id"].as_str().unwrap_or_default());
        post(http, url, &path, &done).await?;
    }
    times.sort();
    Ok(times)
}

/// `POST /workers/claim`: the jobs it took.
async fn claim_jobs(
    http: &reqwest::Client,
    url: &str,
    worker: &str,
    kind: &str,
    max: u64,
    wait_ms: u64,
) -> Result<Vec<Value>, BenchError> {
    let body = json!({"worker": worker, "kinds": [kind], "max": max, "wait_ms": wait_ms});
    let mut answer = post(http, url, "/workers/claim", &body).await?;
    match answer["jobs"].take() {
        Value::Array(jobs) => Ok(jobs),
        _ => Err(BenchError::Status {
            status: 200,
            body: answer.to_string(),
        }),
    }
}

/// POSTs `body` to `path`; the answer, which must be a 2xx.
async fn post(
    http: &reqwest::Client,
    url: &str,
    path: &str,
    body: &Value,
) -> Result<Value, BenchError> {
    let resp = http.post(format!("{url}{path}")).json(body).send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        let mut body = text;
        body.truncate(2000);
        return Err(BenchError::Status {
            status: status.as_u16(),
            body,
        });
    }
    Ok(serde_json::from_str(&text)?)
}
