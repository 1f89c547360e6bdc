//! The one observer of this process's commits ([`crate::store::commit::Committed`]): every
//! state change the store committed, whatever path made it (a submission, a claim, the end of
//! a run, a cancel, a retry, a rescue, dependents failed in turn), reaches from here, once
//! each, the long-poll waiters, the event streams, the metrics and the dispatcher. A new way
//! to change a job is one more write of the store, and is observed like the others.
//!
//! Changes arrive in commit order, so event streams get each job's states in order.
//! Other processes' changes (PostgreSQL notifications) come another way (see
//! `super::forward_events`).

use std::sync::Arc;

use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::Inner;
use crate::events::Subject;
use crate::job::{Job, JobClass, JobKind, JobStatus};
use crate::store::commit::{Cause, Change, Committed};
use crate::store::{WORKER_OWNER, now};
use crate::telemetry::metrics;

/// Applies the commits of `commits` until shutdown.
pub(super) async fn run(rt: Arc<Inner>, mut commits: broadcast::Receiver<Arc<Committed>>) {
    loop {
        let committed = tokio::select! {
            got = commits.recv() => match got {
                Ok(committed) => committed,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "the observer of commits fell behind");
                    rt.missed();
                    continue;
                }
                Err(RecvError::Closed) => return,
            },
            () = rt.stop_claiming.cancelled() => return,
        };
        apply(&rt, &committed);
    }
}

/// Tells everyone what one transaction did.
pub(super) fn apply(rt: &Inner, committed: &Committed) {
    let mut wake = committed.released;
    // Whether a job of a worker kind became claimable: long-polling workers look.
    let mut ready = committed.released;
    let now = now();
    // Submissions by kind, counted once per commit (a batch inserts many of one kind).
    let mut submitted: Vec<(JobKind, u64)> = Vec::new();
    for change in &committed.changes {
        if change.cause == Cause::Submitted {
            match submitted
                .iter_mut()
                .find(|(kind, _)| *kind == change.job.kind)
            {
                Some((_, n)) => *n += 1,
                None => submitted.push((change.job.kind, 1)),
            }
        }
        count(change);
        let job = &change.job;
        log_worker_end(change);
        rt.events.job(job);
        if job.is_final() {
            rt.waiters.notify(job.id, Some(job));
        } else if job.status == JobStatus::Queued {
            if job.run_after > now {
                rt.due_at(job.run_after);
            } else {
                wake = true;
                if rt.has_workers && !ready {
                    ready = rt.kinds.class_of(job.kind) == Some(JobClass::Worker);
                }
            }
        }
    }
    for deleted in &committed.deleted {
        rt.events.deleted(Subject {
            id: deleted.id,
            kind: deleted.kind,
            tenant: deleted.tenant.clone(),
        });
    }
    for &id in &committed.cancels {
        rt.stop_or_remember(id);
    }
    for (kind, n) in submitted {
        metrics::jobs_submitted(kind, n);
    }
    if wake {
        rt.wake.notify_one();
    }
    if ready {
        rt.worker_ready.notify_waiters();
    }
}

/// The log line of a remote worker's run that its answer ended (the server's own runs log
/// theirs in their span, see `run.rs`).
fn log_worker_end(change: &Change) {
    let job = &change.job;
    if !matches!(
        change.cause,
        Cause::RunEnded | Cause::Retried | Cause::HandedBack
    ) {
        return;
    }
    let Some(worker) = (job.instance.as_deref()).and_then(|i| i.strip_prefix(WORKER_OWNER)) else {
        return;
    };
    tracing::info!(
        job_id = %job.id,
        kind = %job.kind,
        attempt = job.attempt,
        status = %job.status,
        trace_id = job.trace_id(),
        worker,
        "a worker's run ended"
    );
}

/// The metrics of one change: each run starts once, each job becomes final once (each job is
/// submitted once: counted by kind in [`apply`]).
fn count(change: &Change) {
    let job = &change.job;
    match change.cause {
        Cause::Retried if job.status == JobStatus::Queued => metrics::job_retried(job.kind),
        Cause::Settled if job.is_final() => metrics::jobs_settled(1),
        _ => {}
    }
    if job.status == JobStatus::Running {
        started(job);
    }
    if job.is_final() {
        let ran = (job.started_at)
            .zip(job.finished_at)
            .and_then(|(started, finished)| (finished - started).to_std().ok())
            .filter(|_| change.cause != Cause::Submitted);
        metrics::job_finished(job.kind, job.status, ran);
    }
}

/// Counts the start of a run and how long its job waited since it was due: submitted, or its
/// `run_after` or back-off passed. A dependent's wait includes its dependencies' runs, and a
/// run handed back at shutdown counts again from its first due time.
fn started(job: &Job) {
    if let Some(started) = job.started_at {
        let due = job.run_after.max(job.created_at);
        metrics::job_started(job.kind, (started - due).to_std().unwrap_or_default());
    }
}
