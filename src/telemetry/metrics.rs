//! Prometheus metrics: one process-wide recorder (the `metrics` facade with the Prometheus
//! exporter, without its HTTP listener: `GET /metrics` renders it) and one function per thing
//! faena counts, so that names and labels live in one place.
//!
//! Labels are closed sets (job kinds, statuses, pools, page outcomes, matched routes), never
//! ids or raw paths, so the number of series stays bounded.

use std::sync::OnceLock;
use std::time::Duration;

use ::metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::job::{JobKind, JobStatus};

/// Upper bounds of the job duration and queue wait buckets (seconds).
const JOB_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    3600.0,
];
/// Upper bounds of the HTTP latency buckets (seconds).
const HTTP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// How often histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder (once per process; later calls do nothing). `false` if another
/// recorder was installed first (by a program embedding faena): metrics then go there and
/// `/metrics` shows only the gauges set at render time.
pub fn install() -> bool {
    HANDLE.get_or_init(build).is_some()
}

fn build() -> Option<PrometheusHandle> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_job_duration_seconds".into()), JOB_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Suffix("_queue_wait_seconds".into()), JOB_BUCKETS)
        })
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Suffix("_request_duration_seconds".into()),
                HTTP_BUCKETS,
            )
        })
        .expect("the bucket lists are not empty")
        .build_recorder();
    let handle = recorder.handle();
    if let Err(err) = ::metrics::set_global_recorder(recorder) {
        tracing::warn!(%err, "another metrics recorder is installed; /metrics will be sparse");
        return None;
    }
    describe();
    // Histogram samples wait in per-series buffers until a render or an upkeep folds them in;
    // without a scraper they would grow for ever.
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("faena-metrics".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        });
    if let Err(err) = spawned {
        tracing::warn!(%err, "cannot start the metrics upkeep thread");
    }
    Some(handle)
}

fn describe() {
    describe_counter!(
        "faena_jobs_submitted_total",
        "Jobs accepted by POST /jobs on this instance."
    );
    describe_counter!(
        "faena_jobs_finished_total",
        "Jobs that reached a final status in a write of this instance, each once: its runs, \
         queued jobs it cancelled, jobs failed at submission or by a write to another job."
    );
    describe_counter!(
        "faena_jobs_settled_total",
        "Jobs made final by a write to another job (also in faena_jobs_finished_total): \
         dependents of a job that did not succeed, interrupted runs settled."
    );
    describe_counter!(
        "faena_job_retries_total",
        "Attempts that failed retryably on this instance and were queued again."
    );
    describe_histogram!(
        "faena_job_duration_seconds",
        Unit::Seconds,
        "Run time of the attempts that ended a job (start to final status)."
    );
    describe_histogram!(
        "faena_job_queue_wait_seconds",
        Unit::Seconds,
        "Time from a job becoming due (submitted, run_after or retry back-off) to its start."
    );
    describe_gauge!(
        "faena_jobs_queued",
        "Jobs queued in the store, all instances (waiting included)."
    );
    describe_gauge!(
        "faena_jobs_running",
        "Jobs running on this instance, by pool."
    );
    describe_counter!(
        "faena_fetch_requests_total",
        "URLs fetched by fetch_urls runs, by outcome (ok or the page's error code)."
    );
    describe_counter!(
        "faena_http_requests_total",
        "HTTP requests answered, by matched route and status."
    );
    describe_histogram!(
        "faena_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency (long-polls included), by matched route and status."
    );
    describe_gauge!(
        "faena_connections_open",
        "HTTP connections open on this instance."
    );
    describe_counter!(
        "faena_connections_refused_total",
        "Connections closed as soon as accepted: past --max-connections or \
         --max-connections-per-ip."
    );
    counter!("faena_connections_refused_total").increment(0);
    describe_gauge!(
        "faena_storage_full",
        "1 while the job store has no room to write (a full disk), else 0."
    );
    describe_counter!(
        "faena_storage_full_writes_total",
        "Writes the job store refused for lack of space: submissions (answered 507 \
         storage_full), claims, lease renewals, ends."
    );
    describe_gauge!("faena_build_info", "Always 1; the version is a label.");
    describe_gauge!(
        "faena_event_streams",
        "Event streams (GET /events, GET /jobs/{id}/events) open on this instance."
    );
    describe_gauge!(
        "process_resident_memory_bytes",
        Unit::Bytes,
        "Resident memory size."
    );
    describe_gauge!(
        "process_virtual_memory_bytes",
        Unit::Bytes,
        "Virtual memory size."
    );
    describe_gauge!(
        "process_cpu_seconds_total",
        Unit::Seconds,
        "User and system CPU time."
    );
    describe_gauge!("process_threads", "Threads of the process.");
    describe_gauge!(
        "process_start_time_seconds",
        Unit::Seconds,
        "Start time, Unix epoch."
    );
    describe_gauge!("process_open_fds", "Open file descriptors.");
    describe_gauge!("process_max_fds", "Soft limit of open file descriptors.");
    gauge!("faena_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

/// The exposition text, after setting the gauges read at scrape time.
pub fn render(gauges: &Gauges) -> String {
    super::process::observe();
    gauge!("faena_jobs_queued").set(gauges.queued as f64);
    gauge!("faena_jobs_running", "pool" => "cpu").set(gauges.running_cpu as f64);
    gauge!("faena_jobs_running", "pool" => "io").set(gauges.running_io as f64);
    gauge!("faena_event_streams").set(gauges.event_streams as f64);
    gauge!("faena_storage_full").set(f64::from(u8::from(gauges.storage_full)));
    counter!("faena_storage_full_writes_total").absolute(gauges.storage_refusals);
    HANDLE
        .get()
        .and_then(Option::as_ref)
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}

/// What is read, not counted: set just before each render.
#[derive(Debug, Clone, Copy)]
pub struct Gauges {
    pub queued: u64,
    pub running_cpu: usize,
    pub running_io: usize,
    /// Event streams open.
    pub event_streams: usize,
    /// Whether the store has no room to write.
    pub storage_full: bool,
    /// Writes the store refused for lack of space, since it opened.
    pub storage_refusals: u64,
}

/// `n` jobs of `kind` were submitted.
pub fn jobs_submitted(kind: JobKind, n: u64) {
    counter!("faena_jobs_submitted_total", "kind" => kind.as_str()).increment(n);
}

/// A run started `wait` after its job became due.
pub fn job_started(kind: JobKind, wait: Duration) {
    histogram!("faena_job_queue_wait_seconds", "kind" => kind.as_str()).record(wait.as_secs_f64());
}

/// A job reached `status`; `ran`: how long its last attempt ran, if it ran.
pub fn job_finished(kind: JobKind, status: JobStatus, ran: Option<Duration>) {
    counter!("faena_jobs_finished_total", "kind" => kind.as_str(), "status" => status.as_str())
        .increment(1);
    if let Some(ran) = ran {
        histogram!("faena_job_duration_seconds", "kind" => kind.as_str()).record(ran.as_secs_f64());
    }
}

/// `n` jobs were made final by a write to another job (dependents failed because their
/// dependency did not succeed, interrupted runs settled at start or after a lost lease).
pub fn jobs_settled(n: usize) {
    if n > 0 {
        counter!("faena_jobs_settled_total").increment(n as u64);
    }
}

pub fn job_retried(kind: JobKind) {
    counter!("faena_job_retries_total", "kind" => kind.as_str()).increment(1);
}

/// One URL of a `fetch_urls` run was fetched: `ok` or a page error code.
pub fn fetch_request(outcome: &'static str) {
    counter!("faena_fetch_requests_total", "outcome" => outcome).increment(1);
}

/// One HTTP request was answered.
pub fn http_request(method: &'static str, route: String, status: u16, took: Duration) {
    let status = status.to_string();
    counter!(
        "faena_http_requests_total",
        "method" => method, "route" => route.clone(), "status" => status.clone()
    )
    .increment(1);
    histogram!(
        "faena_http_request_duration_seconds",
        "method" => method, "route" => route, "status" => status
    )
    .record(took.as_secs_f64());
}
