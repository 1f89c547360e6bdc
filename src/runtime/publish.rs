//! What the runtime records in the event hub besides the state changes it makes itself:
//! the progress of the runs it has, sampled, and the jobs the store or another instance made
//! final (dependents failed, runs settled by a rescue, jobs another instance ran), read back.
//!
//! Both work only while the hub records (someone watches): progress is sampled every
//! [`PROGRESS_EVERY`] and only changes are sent, so a kernel that reports a million steps
//! costs at most a few events a second; jobs made final elsewhere are read one at a time by
//! one task from a bounded queue, so a flood of them cannot pile up reads (past the bound
//! they go unrecorded: their streams see them at their next reload).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Inner;
use crate::job::{JobId, JobProgress};

/// How often the progress of the runs here is looked at.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Jobs made final elsewhere waiting to be read for the hub.
const FINALS_QUEUED: usize = 1024;

/// Where [`Finals::publish`] sends the jobs to read.
pub(super) struct Finals(mpsc::Sender<JobId>);

impl Finals {
    /// Records job `id`, made final by the store or another instance, if anyone watches.
    pub(super) fn publish(&self, rt: &Inner, id: JobId) {
        if rt.events.recording() && self.0.try_send(id).is_err() {
            // Too many to read back: the streams must reload instead.
            rt.events.gap();
        }
    }
}

/// Starts the progress sampler and the reader of jobs made final elsewhere.
pub(super) fn start(rt: &Arc<Inner>) -> Finals {
    let (tx, rx) = mpsc::channel(FINALS_QUEUED);
    rt.tasks.spawn(read_finals(Arc::clone(rt), rx));
    rt.tasks.spawn(sample_progress(Arc::clone(rt)));
    Finals(tx)
}

async fn read_finals(rt: Arc<Inner>, mut ids: mpsc::Receiver<JobId>) {
    loop {
        let id = tokio::select! {
            got = ids.recv() => match got {
                Some(id) => id,
                None => return,
            },
            () = rt.stop_claiming.cancelled() => return,
        };
        match rt.store.get(id).await {
            Ok(Some(job)) => rt.events.read_back(&job),
            Ok(None) => {}
            Err(err) => tracing::debug!(error = ?err, %id, "reading a job for its event failed"),
        }
    }
}

async fn sample_progress(rt: Arc<Inner>) {
    let mut sent: HashMap<JobId, (u64, u64)> = HashMap::new();
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = rt.stop_claiming.cancelled() => return,
        }
        if !rt.events.recording() {
            sent.clear();
            continue;
        }
        let runs: Vec<_> = rt
            .registry()
            .runs
            .values()
            .map(|h| (h.subject.clone(), h.signal.progress().get()))
            .collect();
        sent.retain(|id, _| runs.iter().any(|(s, _)| s.id == *id));
        for (subject, (done, total)) in runs {
            if total == 0 || sent.get(&subject.id) == Some(&(done, total)) {
                continue;
            }
            sent.insert(subject.id, (done, total));
            rt.events.progress(subject, JobProgress { done, total });
        }
    }
}

/// Acts on what other processes did (PostgreSQL notifications), until shutdown: wakes the
/// long-polls of jobs they made final and records those jobs for the event streams (read
/// back), wakes the dispatcher when they queued work, and stops runs here that they were
/// asked to cancel. This process's own changes reach the same places through the observer of
/// its commits.
pub(super) async fn forward_events(rt: Arc<Inner>, finals: Finals) {
    use crate::store::StoreEvent;
    use tokio::sync::broadcast::error::RecvError;
    let mut events = rt.store.events();
    loop {
        let event = tokio::select! {
            got = events.recv() => match got {
                Ok(event) => event,
                Err(RecvError::Lagged(_)) => StoreEvent::Missed,
                Err(RecvError::Closed) => return,
            },
            () = rt.stop_claiming.cancelled() => return,
        };
        match event {
            StoreEvent::Final(id) => {
                rt.waiters.notify(id, None);
                finals.publish(&rt, id);
                // Another instance's run ended: it may have made room under a kind's limit.
                if !rt.config.kind_concurrency.is_empty() {
                    rt.wake.notify_one();
                    rt.worker_ready.notify_waiters();
                }
            }
            StoreEvent::Queued => {
                // Another instance's (a shared store's writer knows only of its own writes).
                rt.store.queue_grew();
                rt.wake.notify_one();
                rt.worker_ready.notify_waiters();
            }
            StoreEvent::CancelRequested(id) => rt.stop_or_remember(id),
            StoreEvent::Missed => rt.missed(),
        }
    }
}
