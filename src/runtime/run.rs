//! One attempt of one job: run its kernel under its deadline, renew its lease meanwhile, and
//! record how it ended, fenced by the attempt's lease; only then free its slot.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::task::AbortOnDropHandle;
use tracing::Instrument;

use super::Inner;
use super::kernel::{self, KernelEnd, RunFiles};
use super::runs::{RunHandle, StopReason};
use crate::events::Subject;
use crate::job::{JobClass, JobProgress};
use crate::kind::Ctl;
use crate::store::{Claimed, Lease, LeaseState, Outcome, RunEnd, now};

pub(super) async fn attempt(rt: Arc<Inner>, claimed: Claimed, class: JobClass) {
    let Claimed { job, lease } = claimed;
    let span = tracing::info_span!(
        "job",
        job_id = %job.id,
        kind = %job.kind,
        attempt = job.attempt,
        trace_id = job.trace_id()
    );
    async move {
        tracing::debug!("run started");
        let handle = RunHandle {
            signal: Default::default(),
            reason: Arc::new(OnceLock::new()),
            subject: Subject {
                id: job.id,
                kind: job.kind,
                tenant: job.tenant.clone(),
            },
        };
        rt.register(job.id, handle.clone());
        // Shutdown may have begun between the claim and the registration above.
        if rt.stop_claiming.is_cancelled() {
            handle.stop(StopReason::Shutdown);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_millis(job.timeout_ms);
        let files = RunFiles {
            store: Arc::clone(&rt.store),
            lease,
        };
        let ctl = Ctl::new(
            handle.signal.clone(),
            job.id,
            (job.attempt, job.max_attempts),
            deadline,
            rt.cpu.clone(),
            Arc::new(files),
        );
        // Spawned tasks do not inherit the span: the kernel (and the pool thread it enters)
        // and the heartbeats log inside the job's.
        let kernel = {
            let (rt, job) = (Arc::clone(&rt), job.clone());
            tokio::spawn(async move { kernel::run(rt, &job, ctl).await }.in_current_span())
        };
        // The lease is renewed by its own task (a slow write never delays noticing the
        // deadline or a stop) until the end of the run is recorded.
        let beat = AbortOnDropHandle::new(tokio::spawn(
            heartbeats(Arc::clone(&rt), lease, handle.clone()).in_current_span(),
        ));
        let (outcome, kernel) = supervise(&handle, kernel, deadline, job.timeout_ms).await;
        let id = job.id;
        record(&rt, Claimed { job, lease }, outcome, progress_of(&handle)).await;
        drop(beat);
        // The job's state is recorded; the slot is free only once the kernel has returned.
        if let Some(kernel) = kernel {
            let _ = kernel.await;
        }
        rt.unregister(id, &handle);
        rt.slots(class).busy.fetch_sub(1, Ordering::AcqRel);
        rt.wake.notify_one();
    }
    .instrument(span)
    .await
}

/// Waits for the kernel, the deadline or a stop. Returns the outcome and, when the kernel is
/// still unwinding, its task.
async fn supervise(
    handle: &RunHandle,
    mut kernel: JoinHandle<KernelEnd>,
    deadline: tokio::time::Instant,
    timeout_ms: u64,
) -> (Outcome, Option<JoinHandle<KernelEnd>>) {
    let deadline = tokio::time::sleep_until(deadline);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            end = &mut kernel => {
                let end = end.unwrap_or_else(|e| KernelEnd::Crashed(e.to_string()));
                return (kernel::outcome_of(end, handle, timeout_ms), None);
            }
            () = &mut deadline, if !handle.signal.is_stopped() => handle.stop(StopReason::Deadline),
            () = handle.signal.token().cancelled() => {
                return (kernel::stopped_outcome(handle, timeout_ms), Some(kernel));
            }
        }
    }
}

/// Renews the lease every heartbeat period; stops the run when a cancel was requested
/// elsewhere, when the lease was lost, or when renewals have failed for so long that the next
/// one could come too late (before the lease can expire and the job be handed to another run
/// while this one goes on).
async fn heartbeats(rt: Arc<Inner>, lease: Lease, handle: RunHandle) {
    let period = rt.config.heartbeat;
    let give_up = rt.config.lease.saturating_sub(period);
    let mut beat = tokio::time::interval(period);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    beat.tick().await;
    let mut renewed = Instant::now();
    loop {
        beat.tick().await;
        // A renewal that hangs (a stalled connection, a pool with no free connection) must not
        // let the run outlive its lease: past `give_up`, stop whatever the store says later.
        let left = give_up.saturating_sub(renewed.elapsed());
        let renewal = rt
            .store
            .heartbeat(lease, progress_of(&handle), rt.config.lease);
        match tokio::time::timeout(left, renewal).await {
            Ok(Ok(LeaseState::Held { cancel_requested })) => {
                renewed = Instant::now();
                if cancel_requested {
                    handle.stop(StopReason::Cancelled);
                }
            }
            Ok(Ok(LeaseState::Lost)) => handle.stop(StopReason::LeaseLost),
            Ok(Err(err)) => {
                write_failed!(warn, err, "lease renewal failed");
                if renewed.elapsed() >= give_up {
                    handle.stop(StopReason::LeaseLost);
                }
            }
            Err(_) => {
                tracing::warn!(?give_up, "lease renewal still unanswered; stopping the run");
                handle.stop(StopReason::LeaseLost);
            }
        }
    }
}

/// Records the end of the run, retrying while the store fails (every try is fenced, so a
/// repeat is harmless). What follows (long-polls answered, event streams, metrics, a retry's
/// due time) follows from the commit, through the observer. At shutdown the retries go on
/// until the process exits; the next start's recovery then settles the job.
async fn record(rt: &Inner, run: Claimed, outcome: Outcome, progress: Option<JobProgress>) {
    let name = outcome.name();
    let end = RunEnd::new(run, outcome, progress, now());
    let mut delay = Duration::from_millis(50);
    loop {
        match rt.store.finish(end.clone()).await {
            Ok(Some(_)) => return tracing::info!(outcome = name, "run ended"),
            Ok(None) => {
                return tracing::warn!(outcome = name, "run ended but the job had moved on");
            }
            Err(err) => {
                write_failed!(
                    error,
                    err,
                    ?delay,
                    "recording the end of a run failed; retrying"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn progress_of(handle: &RunHandle) -> Option<JobProgress> {
    let (done, total) = handle.signal.progress().get();
    (total > 0).then_some(JobProgress { done, total })
}
