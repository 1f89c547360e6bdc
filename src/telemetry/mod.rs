//! Observability: structured `tracing` logs (this file) and Prometheus metrics
//! ([`metrics`]).
//!
//! Logs are text or JSON lines on stderr, filtered by `RUST_LOG` (default `info`, with sqlx
//! and tower-http at `warn`). Every request runs in an `http` span carrying its `request_id`
//! (the `x-request-id` header, generated when missing); every run of a job in a `job` span
//! carrying `job_id`, `kind` and `attempt`, entered on the rayon thread that runs a CPU
//! kernel too. A JSON line names its thread and carries its spans' fields (`span`, `spans`).

pub mod metrics;
mod process;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The filter when `RUST_LOG` is unset.
const DEFAULT_FILTER: &str = "info,sqlx=warn,tower_http=warn";

/// Installs the global subscriber; a second call does nothing.
pub fn init(format: LogFormat) {
    let (filter, bad) = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => match EnvFilter::try_new(&spec) {
            Ok(filter) => (filter, None),
            Err(err) => (EnvFilter::new(DEFAULT_FILTER), Some((spec, err))),
        },
        _ => (EnvFilter::new(DEFAULT_FILTER), None),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_thread_names(true)
            .try_init(),
    };
    if let Some((spec, err)) = bad {
        tracing::warn!(rust_log = %spec, %err, "RUST_LOG does not parse; using {DEFAULT_FILTER}");
    }
}
