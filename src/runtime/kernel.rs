//! Running a job's kernel on the right executor: CPU kinds on the rayon pool (through
//! `spawn_blocking`), I/O kinds as the future of a tokio task. Turns what the kernel returned
//! into an [`Outcome`], given why the run was stopped if it was.

use serde::Serialize;
use serde_json::Value;

use super::{CpuPool, RunHandle, StopReason};
use crate::job::{JobError, JobErrorCode, JobSpec};
use crate::kinds::{Ctl, Stopped, count_primes, factorial, sleep};
use crate::store::Outcome;

/// What the kernel of a run came back with.
pub(super) enum KernelEnd {
    Done(Value),
    Stopped,
    Crashed(String),
}

/// Runs the kernel of `spec`.
pub(super) async fn run(cpu: CpuPool, spec: JobSpec, ctl: Ctl) -> KernelEnd {
    match spec {
        JobSpec::CountPrimes(p) => on_pool(&cpu, move || count_primes::run(&p, &ctl)).await,
        JobSpec::Factorial(p) => on_pool(&cpu, move || factorial::run(&p, &ctl)).await,
        JobSpec::Sleep(p) => to_end(sleep::run(&p, &ctl).await),
    }
}

async fn on_pool<T, F>(cpu: &CpuPool, f: F) -> KernelEnd
where
    T: Serialize + Send + 'static,
    F: FnOnce() -> Result<T, Stopped> + Send + 'static,
{
    match cpu.run(f).await {
        Ok(result) => to_end(result),
        Err(err) => KernelEnd::Crashed(err.to_string()),
    }
}

fn to_end<T: Serialize>(result: Result<T, Stopped>) -> KernelEnd {
    match result.map(|out| serde_json::to_value(out)) {
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
