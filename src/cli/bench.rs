//! `faena bench`: a load generator that drives running servers over HTTP. Each of C clients
//! submits a job, long-polls it to its end, and starts the next, until N jobs are done; it
//! prints the rate and the latency percentiles of submission, of submit-to-done and of pickup
//! (from the job's creation to the start of its run, as the server recorded them, to the
//! millisecond). Given several URLs (instances sharing a database), job k goes to URL
//! k mod n. With `--submit-only` the clients only submit (to fill a queue, or to measure
//! intake alone). With `--rate` job k starts no earlier than k / rate seconds in: a steady load.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};

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

/// What one client measured.
#[derive(Default)]
struct Samples {
    submit: Vec<Duration>,
    done: Vec<Duration>,
    pickup: Vec<Duration>,
    not_succeeded: u64,
}

/// Runs the benchmark and prints its report.
pub async fn run(args: BenchArgs) -> Result<(), BenchError> {
    let params: Value = serde_json::from_str(&args.params)?;
    let body = Arc::new(json!({"kind": args.kind, "params": params}));
    crate::kinds::fetch_urls::client::install_crypto();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients as usize)
        .build()?;
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.clients.max(1) {
        let (client, body, next) = (client.clone(), Arc::clone(&body), Arc::clone(&next));
        let (urls, submit_only, rate) = (args.url.clone(), args.submit_only, args.rate);
        tasks.push(tokio::spawn(async move {
            let mut samples = Samples::default();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= args.jobs {
                    break;
                }
                let url = &urls[(k % urls.len() as u64) as usize];
                if rate > 0.0 {
                    let due = started + Duration::from_secs_f64(k as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                one_job(&client, url, &body, submit_only, &mut samples).await?;
            }
            Ok::<_, BenchError>(samples)
        }));
    }
    let mut all = Samples::default();
    for task in tasks {
        let s = task.await.expect("bench client panicked")?;
        all.submit.extend(s.submit);
        all.done.extend(s.done);
        all.pickup.extend(s.pickup);
        all.not_succeeded += s.not_succeeded;
    }
    let elapsed = started.elapsed();
    print_report(&args, elapsed, &mut all);
    Ok(())
}

async fn one_job(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    submit_only: bool,
    samples: &mut Samples,
) -> Result<(), BenchError> {
    let t0 = Instant::now();
    let resp = client.post(format!("{url}/jobs")).json(body).send().await?;
    let status = resp.status();
    let mut job: Value = resp.json().await?;
    if status != reqwest::StatusCode::ACCEPTED {
        return Err(BenchError::Status {
            status: status.as_u16(),
            body: job.to_string(),
        });
    }
    samples.submit.push(t0.elapsed());
    if submit_only {
        return Ok(());
    }
    let id = job["id"].as_str().unwrap_or_default().to_string();
    while matches!(job["status"].as_str(), Some("queued" | "running")) {
        job = client
            .get(format!("{url}/jobs/{id}?wait_ms=60000"))
            .send()
            .await?
            .json()
            .await?;
    }
    samples.done.push(t0.elapsed());
    let time = |field: &str| {
        job[field]
            .as_str()
            .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
    };
    if let (Some(created), Some(started)) = (time("created_at"), time("started_at")) {
        samples
            .pickup
            .push((started - created).to_std().unwrap_or_default());
    }
    if job["status"] != "succeeded" {
        samples.not_succeeded += 1;
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

fn print_report(args: &BenchArgs, elapsed: Duration, all: &mut Samples) {
    use std::fmt::Write as _;
    use std::io::Write as _;
    all.submit.sort();
    all.done.sort();
    all.pickup.sort();
    let n = all.submit.len();
    let what = if args.submit_only {
        "submitted"
    } else {
        "done"
    };
    let mut report = format!(
        "faena bench: {n} {} jobs {what}, {} clients, {} server(s), {:.3} s, {:.0} jobs/s, \
         {} not succeeded\n",
        args.kind,
        args.clients,
        args.url.len(),
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        all.not_succeeded
    );
    for (name, s) in [
        ("submit", &all.submit),
        ("submit-to-done", &all.done),
        ("pickup", &all.pickup),
    ] {
        if !s.is_empty() {
            let _ = writeln!(
                report,
                "  {name:<15} p50 {:>8.2} ms  p90 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms",
                percentile(s, 50.0),
                percentile(s, 90.0),
                percentile(s, 99.0),
                percentile(s, 100.0)
            );
        }
    }
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(report.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&ms, 50.0), 50.0);
        assert_eq!(percentile(&ms, 99.0), 99.0);
        assert_eq!(percentile(&ms, 100.0), 100.0);
        assert_eq!(percentile(&[], 99.0), 0.0);
    }
}
