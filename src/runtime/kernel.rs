//! Running a job's kernel on the right executor: CPU kinds on the rayon pool (through
//! `spawn_blocking`), I/O kinds as the future of a tokio task. Turns what the kernel returned
//! into an [`Outcome`], given why the run was stopped if it was.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use super::{CpuPool, Inner, RunHandle, StopReason};
use crate::job::{JobError, JobErrorCode, JobResult, JobSpec};
use crate::kinds::fetch_urls::{self, PageSink, SaveError};
use crate::kinds::{Ctl, Stopped, count_primes, factorial, sleep, word_count};
use crate::store::{JobStore, Lease, NewFile, Outcome};

/// What the kernel of a run came back with.
pub(super) enum KernelEnd {
    Done(JobResult),
    Stopped,
    /// The job cannot succeed (its input is gone): failed, not retried.
    Failed(JobError),
    /// The run failed for a reason that may pass (a transient I/O error): retried while
    /// attempts remain.
    Retry(JobError),
    Crashed(String),
}

/// Runs the kernel of `spec` for the attempt holding `lease`.
/// `last_attempt`: no retry would follow a retryable failure.
pub(super) async fn run(
    rt: Arc<Inner>,
    spec: JobSpec,
    ctl: Ctl,
    lease: Lease,
    last_attempt: bool,
) -> KernelEnd {
    let cpu = &rt.cpu;
    match spec {
        JobSpec::CountPrimes(p) => on_pool(cpu, move || count_primes::run(&p, &ctl)).await,
        JobSpec::Factorial(p) => on_pool(cpu, move || factorial::run(&p, &ctl)).await,
        JobSpec::Sleep(p) => to_end(sleep::run(&p, &ctl).await),
        JobSpec::FetchUrls(p) => fetch_urls(&rt, p, ctl, lease, last_attempt).await,
        JobSpec::WordCount(p) => match p.source_job {
            Some(source) => super::source_pages::count_source(&rt, source, p.top, ctl).await,
            None => on_pool(cpu, move || word_count::run_inline(&p, &ctl)).await,
        },
    }
}

/// Saves pages in the store, fenced by the run's lease.
struct StoreSink {
    store: Arc<dyn JobStore>,
    lease: Lease,
}

#[async_trait]
impl PageSink for StoreSink {
    async fn save(&self, file: NewFile) -> Result<(), SaveError> {
        match self.store.save_file(self.lease, file).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(SaveError::LeaseLost),
            Err(err) => Err(SaveError::Store(crate::error_chain::text(&err))),
        }
    }
}

async fn fetch_urls(
    rt: &Inner,
    p: fetch_urls::Params,
    ctl: Ctl,
    lease: Lease,
    last_attempt: bool,
) -> KernelEnd {
    let sink = StoreSink {
        store: Arc::clone(&rt.store),
        lease,
    };
    // Pages of an earlier, interrupted attempt go: the result lists only this one's.
    if p.save {
        match rt.store.clear_files(lease).await {
            Ok(true) => {}
            Ok(false) => return KernelEnd::Stopped,
            Err(err) => return storage_failed("clearing the last attempt's pages", &err),
        }
    }
    let output = fetch_urls::run(&p, &ctl, &rt.fetcher, &sink).await;
    if let Ok(out) = &output
        && p.retry_transient
        && !last_attempt
        && let Some(error) = out.transient_error()
    {
        return KernelEnd::Retry(error);
    }
    to_end(output)
}

/// A run the job store failed: retried (the store may be back by then).
pub(super) fn storage_failed(what: &str, err: &crate::store::StoreError) -> KernelEnd {
    tracing::warn!(error = ?err, "{what} failed");
    KernelEnd::Retry(JobError::new(
        JobErrorCode::Storage,
        format!("{what} failed: {}", crate::error_chain::text(err)),
    ))
}

pub(super) async fn on_pool<T, F>(cpu: &CpuPool, f: F) -> KernelEnd
where
    T: Serialize + Send + 'static,
    F: FnOnce() -> Result<T, Stopped> + Send + 'static,
{
    let run = move || {
        tracing::debug!("kernel running on the CPU pool");
        let result = f();
        tracing::debug!(stopped = result.is_err(), "kernel returned");
        result
    };
    match cpu.run(run).await {
        Ok(result) => to_end(result),
        Err(err) => KernelEnd::Crashed(err.to_string()),
    }
}

fn to_end<T: Serialize>(result: Result<T, Stopped>) -> KernelEnd {
    match result.map(|out| JobResult::of(&out)) {
        Ok(Ok(value)) => KernelEnd::Done(value),
        Ok(Err(err)) => KernelEnd::Crashed(format!("result does not serialise: {err}")),
        Err(Stopped) => KernelEnd::Stopped,
    }
}

/// The outcome of a kernel that returned.
pub(super) fn outcome_of(end: KernelEnd, handle: &RunHandle, timeout_ms: u64) -> Outcome {
    match end {
        KernelEnd::Done(value) => Outcome::Succeeded(value),
        KernelEnd::Stopped => stopped_outcome(handle, timeout_ms),
        KernelEnd::Failed(error) => Outcome::Failed(error),
        KernelEnd::Retry(error) => Outcome::Retry(error),
        KernelEnd::Crashed(why) => {
            tracing::error!(%why, "kernel crashed");
            Outcome::Failed(JobError::new(
                JobErrorCode::Internal,
                "the job's kernel failed unexpectedly",
            ))
        }
    }
}

/// The outcome of a run stopped before its kernel finished.
pub(super) fn stopped_outcome(handle: &RunHandle, timeout_ms: u64) -> Outcome {
    match handle.reason.get() {
        Some(StopReason::Deadline) => Outcome::TimedOut(JobError::new(
            JobErrorCode::TimedOut,
            format!("the run passed its deadline of {timeout_ms} ms"),
        )),
        Some(StopReason::Cancelled) => Outcome::Cancelled(JobError::new(
            JobErrorCode::Cancelled,
            "cancelled by request while running",
        )),
        // Handed back; if the lease was lost the fenced write is refused anyway.
        Some(StopReason::Shutdown | StopReason::LeaseLost) | None => Outcome::Requeue,
    }
}
