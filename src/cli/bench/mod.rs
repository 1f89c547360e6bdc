//! `faena bench`: a load generator that drives running servers over HTTP. Each of C clients
//! submits a job, long-polls it to its end, and starts the next, until N jobs are done; it
//! prints the rate and the latency percentiles of submission, of submit-to-done and of pickup
//! (from the job's creation to the start of its run, as the server recorded them, to the
//! millisecond). Given several URLs (instances sharing a database), job k goes to URL
//! k mod n. With `--submit-only` the clients only submit (to fill a queue, or to measure
//! intake alone). With `--rate` job k starts no earlier than k / rate seconds in: a steady load.
//! With `--wait-in-submit` one request per job (`POST /jobs?wait_ms=`) instead of two; with
//! `--batch K` the clients submit K jobs per request to `POST /jobs/batch` (and only submit).
//! With `--reads R`, R reads of random jobs among those submitted follow (`GET /jobs/{id}`).
//! With `--workers W` (the kind a worker kind of the server), remote workers' throughput and
//! latency instead: see [`drain`].

mod drain;
mod report;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};

use report::Samples;

/// Options of `faena bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Base URL of the server; several, comma-separated, to spread jobs over instances.
    #[arg(long, default_value = "http://127.0.0.1:8080", value_delimiter = ',')]
    pub url: Vec<String>,
    /// Kind of the jobs.
    #[arg(long, default_value = "sleep")]
    pub kind: String,
    /// Parameters of each job (JSON).
    #[arg(long, default_value = r#"{"ms":0}"#)]
    pub params: String,
    /// Number of jobs.
    #[arg(short = 'n', long, default_value_t = 10_000)]
    pub jobs: u64,
    /// Concurrent clients.
    #[arg(short = 'c', long, default_value_t = 32)]
    pub clients: u64,
    /// Only submit; do not wait for the jobs to finish.
    #[arg(long)]
    pub submit_only: bool,
    /// Start at most this many jobs per second, evenly paced (0: as fast as the clients go):
    /// a steady load, e.g. for a soak test.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Submit with `POST /jobs?wait_ms=60000`, which answers when the job is final: one request
    /// per job instead of a submission and a long-poll.
    #[arg(long, conflicts_with_all = ["submit_only", "batch"])]
    pub wait_in_submit: bool,
    /// Submit through `POST /jobs/batch`, this many jobs (1..=1000) per request; only submits.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub batch: Option<u64>,
    /// Then read this many jobs chosen at random among those submitted (`GET /jobs/{id}`),
    /// from the same clients, and report the latency of the reads.
    #[arg(long, default_value_t = 0)]
    pub reads: u64,
    /// Fill the queue with the N jobs (`--kind` must be a worker kind of the server), then
    /// drain it with this many remote workers speaking the workers' protocol; then measure
    /// claim-to-start latency.
    #[arg(long, conflicts_with_all = ["submit_only", "batch", "wait_in_submit", "rate", "reads"])]
    pub workers: Option<u64>,
    /// With `--workers`: most jobs per claim (1..=1000), all answered in one request.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub claim: u64,
    /// With `--workers`: jobs submitted one at a time to a long-polling worker, for the
    /// claim-to-start latency (0: not measured).
    #[arg(long, default_value_t = 200)]
    pub latency_samples: u64,
}

/// Errors of the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("--params is not JSON: {0}")]
    Params(#[from] serde_json::Error),
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("unexpected answer {status}: {body}")]
    Status { status: u16, body: String },
}

/// How the clients submit.
#[derive(Clone, Copy)]
enum Mode {
    /// `POST /jobs`, then long-polls unless `submit_only`.
    Single {
        submit_only: bool,
        wait_in_submit: bool,
    },
    /// `POST /jobs/batch` of this many jobs.
    Batch(u64),
}

/// Runs the benchmark and prints its report.
pub async fn run(args: BenchArgs) -> Result<(), BenchError> {
    let params: Value = serde_json::from_str(&args.params)?;
    let job = json!({"kind": args.kind, "params": params});
    crate::kinds::fetch_urls::client::install_crypto();
    if let Some(workers) = args.workers {
        return drain::run(&args, job, workers).await;
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients as usize)
        .build()?;
    let mode = match args.batch {
        Some(k) => Mode::Batch(k),
        None => Mode::Single {
            submit_only: args.submit_only,
            wait_in_submit: args.wait_in_submit,
        },
    };
    let body = Arc::new(match mode {
        Mode::Batch(k) => json!({"jobs": vec![job; k as usize]}),
        Mode::Single { .. } => job,
    });
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.clients.max(1) {
        let (client, body, next) = (client.clone(), Arc::clone(&body), Arc::clone(&next));
        let (urls, jobs, rate, keep_ids) = (args.url.clone(), args.jobs, args.rate, args.reads > 0);
        tasks.push(tokio::spawn(async move {
            let mut client = Client {
                http: client,
                samples: Samples::default(),
                ids: Vec::new(),
                keep_ids,
            };
            let step = match mode {
                Mode::Batch(k) => k,
                Mode::Single { .. } => 1,
            };
            loop {
                let k = next.fetch_add(step, Ordering::Relaxed);
                if k >= jobs {
                    break;
                }
                let url = &urls[((k / step) % urls.len() as u64) as usize];
                if rate > 0.0 {
                    let due = started + Duration::from_secs_f64(k as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                match mode {
                    Mode::Single {
                        submit_only,
                        wait_in_submit,
                    } => {
                        client
                            .one_job(url, &body, submit_only, wait_in_submit)
                            .await?
                    }
                    Mode::Batch(_) => client.one_batch(url, &body).await?,
                }
            }
            Ok::<_, BenchError>((client.samples, client.ids))
        }));
    }
    let mut all = Samples::default();
    let mut ids = Vec::new();
    for task in tasks {
        let (samples, client_ids) = task.await.expect("bench client panicked")?;
        all.merge(samples);
        ids.extend(client_ids);
    }
    let elapsed = started.elapsed();
    let read_elapsed = if args.reads > 0 && !ids.is_empty() {
        let started = Instant::now();
        all.read = reads(&client, &args, ids).await?;
        Some(started.elapsed())
    } else {
        None
    };
    let what = match mode {
        Mode::Single {
            submit_only: false, ..
        } => "done",
        _ => "submitted",
    };
    let run = report::Run {
        kind: &args.kind,
        what,
        clients: args.clients,
        servers: args.url.len(),
        elapsed,
    };
    report::print(&run, &mut all, read_elapsed);
    Ok(())
}

/// One client of the benchmark: its connection pool, what it measured, the ids it submitted.
struct Client {
    http: reqwest::Client,
    samples: Samples,
    ids: Vec<(String, String)>,
    keep_ids: bool,
}

impl Client {
    async fn one_job(
        &mut self,
        url: &str,
        body: &Value,
        submit_only: bool,
        wait_in_submit: bool,
    ) -> Result<(), BenchError> {
        let t0 = Instant::now();
        let wait = if wait_in_submit { "?wait_ms=60000" } else { "" };
        let resp = self
            .http
            .post(format!("{url}/jobs{wait}"))
            .json(body)
            .send()
            .await?;
        let status = resp.status();
        let mut job: Value = resp.json().await?;
        if !matches!(status.as_u16(), 200 | 202) || job["kind"].is_null() {
            return Err(BenchError::Status {
                status: status.as_u16(),
                body: job.to_string(),
            });
        }
        self.samples.submit.push(t0.elapsed());
        self.samples.jobs += 1;
        let id = job["id"].as_str().unwrap_or_default().to_string();
        if self.keep_ids {
            self.ids.push((url.to_string(), id.clone()));
        }
        if submit_only {
            return Ok(());
        }
        while matches!(job["status"].as_str(), Some("queued" | "running")) {
            job = self
                .http
                .get(format!("{url}/jobs/{id}?wait_ms=60000"))
                .send()
                .await?
                .json()
                .await?;
        }
        self.samples.done.push(t0.elapsed());
        self.record_times(&job);
        Ok(())
    }

    /// The pickup and run times the server recorded, and whether the job succeeded.
    fn record_times(&mut self, job: &Value) {
        let time = |field: &str| {
            job[field]
                .as_str()
                .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
        };
        let (created, started, finished) =
            (time("created_at"), time("started_at"), time("finished_at"));
        if let (Some(created), Some(started)) = (created, started) {
            let pickup = (started - created).to_std().unwrap_or_default();
            self.samples.pickup.push(pickup);
        }
        if let (Some(started), Some(finished)) = (started, finished) {
            let run = (finished - started).to_std().unwrap_or_default();
            self.samples.run.push(run);
        }
        if job["status"] != "succeeded" {
            self.samples.not_succeeded += 1;
        }
    }

    async fn one_batch(&mut self, url: &str, body: &Value) -> Result<(), BenchError> {
        let t0 = Instant::now();
        let resp = self
            .http
            .post(format!("{url}/jobs/batch"))
            .json(body)
            .send()
            .await?;
        let status = resp.status();
        let answer: Value = resp.json().await?;
        let rejected = answer["rejected"].as_u64();
        if status != reqwest::StatusCode::OK || rejected != Some(0) {
            let mut body = answer.to_string();
            body.truncate(2000);
            return Err(BenchError::Status {
                status: status.as_u16(),
                body,
            });
        }
        self.samples.submit.push(t0.elapsed());
        let items = answer["items"].as_array().map_or(&[][..], Vec::as_slice);
        self.samples.jobs += items.len() as u64;
        if self.keep_ids {
            for item in items {
                let id = item["job"]["id"].as_str().unwrap_or_default();
                self.ids.push((url.to_string(), id.to_string()));
            }
        }
        Ok(())
    }
}

/// `args.reads` reads of jobs picked at random (a fixed seed) among `ids`, from the clients.
async fn reads(
    client: &reqwest::Client,
    args: &BenchArgs,
    ids: Vec<(String, String)>,
) -> Result<Vec<Duration>, BenchError> {
    let ids = Arc::new(ids);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..args.clients.max(1) {
        let (client, ids, next, total) = (
            client.clone(),
            Arc::clone(&ids),
            Arc::clone(&next),
            args.reads,
        );
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut rng = 0x9E37_79B9_7F4A_7C15_u64 ^ (c + 1);
            while next.fetch_add(1, Ordering::Relaxed) < total {
                // xorshift64: no statistical quality needed, only spread.
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let (url, id) = &ids[(rng % ids.len() as u64) as usize];
                let t0 = Instant::now();
                let resp = client.get(format!("{url}/jobs/{id}")).send().await?;
                let status = resp.status();
                let body = resp.bytes().await?;
                if status != reqwest::StatusCode::OK {
                    return Err(BenchError::Status {
                        status: status.as_u16(),
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                }
                times.push(t0.elapsed());
            }
            Ok::<_, BenchError>(times)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("bench reader panicked")?);
    }
    Ok(all)
}
