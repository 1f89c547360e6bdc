//! One attempt of one job: run its kernel on the right executor under its deadline, renew its
//! lease, and record how it ended, fenced by the attempt's lease.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{Inner, RunHandle, StopReason};
use chrono::{DateTime, Utc};

use crate::job::{Job, JobClass, JobError, JobErrorCode, JobProgress, JobSpec, JobStatus};
use crate::kinds::{Ctl, Stopped, count_primes, factorial, sleep};
use crate::store::{Claimed, Lease, LeaseState, Outcome, now};

/// What the kernel of a run came back with.
enum KernelEnd {
    Done(Value),
    Stopped,
    Crashed(String),
}

pub(super) async fn attempt(rt: Arc<Inner>, claimed: Claimed, class: JobClass) {
    let Claimed { job, lease } = claimed;
    let span = tracing::info_span!("job", id = %job.id, kind = %job.kind, attempt = job.attempt);
    async move {
        tracing::debug!("run started");
        let token = CancellationToken::new();
        let ctl = Ctl::new(token.clone());
        let handle = RunHandle {
            token: token.clone(),
            reason: Arc::new(OnceLock::new()),
            progress: Arc::clone(ctl.progress()),
        };
        rt.register(job.id, handle.clone());
        // Shutdown may have begun between the claim and the registration above.
        if rt.stop_claiming.is_cancelled() {
            handle.stop(StopReason::Shutdown);
        }

        let kernel = match JobSpec::from_stored(job.kind, &job.params) {
            Ok(spec) => tokio::spawn(run_kernel(rt.cpu.clone(), spec, ctl)),
            Err(err) => tokio::spawn(std::future::ready(KernelEnd::Crashed(format!(
                "stored parameters no longer parse: {err}"
            )))),
        };
        let (outcome, kernel) = supervise(&rt, lease, &handle, kernel, job.timeout_ms).await;

        let ended = outcome_name(&outcome);
        let (id, at, progress) = (job.id, now(), progress_of(&handle));
        let done = final_job(job, &outcome, progress, at);
        match rt.store.finish(lease, outcome, progress, at).await {
            Ok(true) => {
                tracing::info!(outcome = ended, "run ended");
                rt.waiters.notify(id, done);
            }
            Ok(false) => {
                tracing::warn!(outcome = ended, "run ended but the job had moved on");
                rt.waiters.notify(id, None);
            }
            Err(err) => {
                tracing::error!(error = ?err, "recording the end of a run failed");
                rt.waiters.notify(id, None);
            }
        }

        // The job's state is recorded; the slot is free only once the kernel has returned.
        if let Some(kernel) = kernel {
            let _ = kernel.await;
        }
        rt.unregister(id);
        rt.slots(class).busy.fetch_sub(1, Ordering::AcqRel);
        rt.wake.notify_one();
    }
    .instrument(span)
    .await
}

/// Waits for the kernel, the deadline, a stop or a lost lease, renewing the lease meanwhile.
/// Returns the outcome and, when the kernel is still unwinding, its task.
async fn supervise(
    rt: &Inner,
    lease: Lease,
    handle: &RunHandle,
    mut kernel: tokio::task::JoinHandle<KernelEnd>,
    timeout_ms: u64,
) -> (Outcome, Option<tokio::task::JoinHandle<KernelEnd>>) {
    let deadline = tokio::time::sleep(Duration::from_millis(timeout_ms));
    tokio::pin!(deadline);
    let mut beat = tokio::time::interval(rt.config.lease / 3);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    beat.tick().await;
    loop {
        tokio::select! {
            end = &mut kernel => {
                let end = end.unwrap_or_else(|e| KernelEnd::Crashed(e.to_string()));
                return (outcome_of(end, handle, timeout_ms), None);
            }
            () = &mut deadline, if !handle.token.is_cancelled() => handle.stop(StopReason::Deadline),
            () = handle.token.cancelled() => {
                return (stopped_outcome(handle, timeout_ms), Some(kernel));
            }
            _ = beat.tick() => heartbeat(rt, lease, handle).await,
        }
    }
}

/// The job as `finish` records it, for the long-polls waiting on it; `None` if it is not final.
fn final_job(
    mut job: Job,
    outcome: &Outcome,
    progress: Option<JobProgress>,
    at: DateTime<Utc>,
) -> Option<Job> {
    let (status, result, error) = match outcome {
        Outcome::Succeeded(v) => (JobStatus::Succeeded, Some(v.clone()), None),
        Outcome::Failed(e) => (JobStatus::Failed, None, Some(e.clone())),
        Outcome::TimedOut(e) => (JobStatus::TimedOut, None, Some(e.clone())),
        Outcome::Cancelled(e) => (JobStatus::Cancelled, None, Some(e.clone())),
        Outcome::Requeue => return None,
    };
    job.status = status;
    job.result = result;
    job.error = error;
    job.finished_at = Some(at);
    job.progress = progress.or(job.progress);
    Some(job)
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded(_) => "succeeded",
        Outcome::Failed(_) => "failed",
        Outcome::TimedOut(_) => "timed_out",
        Outcome::Cancelled(_) => "cancelled",
        Outcome::Requeue => "requeued",
    }
}

fn progress_of(handle: &RunHandle) -> Option<JobProgress> {
    let (done, total) = handle.progress.get();
    (total > 0).then_some(JobProgress { done, total })
}

async fn heartbeat(rt: &Inner, lease: Lease, handle: &RunHandle) {
    match rt
        .store
        .heartbeat(lease, progress_of(handle), rt.config.lease)
        .await
    {
        Ok(LeaseState::Held { cancel_requested }) => {
            if cancel_requested {
                handle.stop(StopReason::Cancelled);
            }
        }
        Ok(LeaseState::Lost) => handle.stop(StopReason::LeaseLost),
        Err(err) => tracing::warn!(error = ?err, "lease renewal failed"),
    }
}

fn outcome_of(end: KernelEnd, handle: &RunHandle, timeout_ms: u64) -> Outcome {
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

fn stopped_outcome(handle: &RunHandle, timeout_ms: u64) -> Outcome {
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

/// Runs the kernel of `spec`: CPU kinds on the pool, I/O kinds on this task.
async fn run_kernel(cpu: super::CpuPool, spec: JobSpec, ctl: Ctl) -> KernelEnd {
    match spec {
        JobSpec::CountPrimes(p) => on_pool(&cpu, move || count_primes::run(&p, &ctl)).await,
        JobSpec::Factorial(p) => on_pool(&cpu, move || factorial::run(&p, &ctl)).await,
        JobSpec::Sleep(p) => to_end(sleep::run(&p, &ctl).await),
    }
}

async fn on_pool<T, F>(cpu: &super::CpuPool, f: F) -> KernelEnd
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
