//! The runs of this instance: each one's handle (its stop signal, why it was stopped, its
//! progress), cancels that came before their run registered, and the slots of each class.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::Inner;
use crate::events::Subject;
use crate::job::{JobClass, JobId};
use crate::kind::Signal;

/// Why a run was stopped before its kernel finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Deadline,
    Cancelled,
    Shutdown,
    /// The store says the attempt is no longer ours.
    LeaseLost,
}

/// A run in progress on this instance.
#[derive(Debug, Clone)]
pub(super) struct RunHandle {
    /// The run's stop flag, cancellation token and progress.
    pub(super) signal: Signal,
    pub(super) reason: Arc<OnceLock<StopReason>>,
    /// The job, as event streams filter on it.
    pub(super) subject: Subject,
}

impl RunHandle {
    /// Stops the run; the first reason given wins.
    pub(super) fn stop(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        self.signal.stop();
    }
}

/// The runs of this instance, and cancels that arrived for a claimed job before its runner
/// registered (the claim and the registration are not one step). A remembered cancel whose
/// run never registers (it had just ended) is forgotten after [`EARLY_CANCEL_TTL`].
#[derive(Debug, Default)]
pub(super) struct Runs {
    pub(super) runs: HashMap<JobId, RunHandle>,
    pub(super) early_cancels: HashMap<JobId, Instant>,
}

/// How long a cancel waits for its run to register; the heartbeat catches anything later.
const EARLY_CANCEL_TTL: Duration = Duration::from_secs(60);

/// Slots of one class of job.
#[derive(Debug)]
pub(super) struct Slots {
    pub(super) max: usize,
    pub(super) busy: AtomicUsize,
}

impl Slots {
    pub(super) fn new(max: usize) -> Self {
        Self {
            max,
            busy: AtomicUsize::new(0),
        }
    }

    /// Takes up to `n` free slots; how many it took.
    pub(super) fn take(&self, n: usize) -> usize {
        let took = self
            .busy
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |busy| {
                let take = n.min(self.max.saturating_sub(busy));
                (take > 0).then_some(busy + take)
            });
        took.map_or(0, |busy| n.min(self.max - busy))
    }

    /// Frees `n` slots taken and not used.
    pub(super) fn give_back(&self, n: usize) {
        self.busy.fetch_sub(n, Ordering::AcqRel);
    }
}

impl Inner {
    pub(super) fn slots(&self, class: JobClass) -> &Slots {
        match class {
            JobClass::Cpu => &self.cpu_slots,
            JobClass::Io => &self.io_slots,
            // None here: remote workers run them.
            JobClass::Worker => &self.worker_slots,
        }
    }

    pub(super) fn registry(&self) -> std::sync::MutexGuard<'_, Runs> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn handle(&self, id: JobId) -> Option<RunHandle> {
        self.registry().runs.get(&id).cloned()
    }

    /// Registers a run; applies a cancel that came before it.
    pub(super) fn register(&self, id: JobId, handle: RunHandle) {
        let mut reg = self.registry();
        if reg.early_cancels.remove(&id).is_some() {
            handle.stop(StopReason::Cancelled);
        }
        reg.runs.insert(id, handle);
    }

    /// Removes the run of `id` if it is still `handle` (a newer run of the same job may have
    /// replaced it).
    pub(super) fn unregister(&self, id: JobId, handle: &RunHandle) {
        let mut reg = self.registry();
        if reg
            .runs
            .get(&id)
            .is_some_and(|h| Arc::ptr_eq(&h.reason, &handle.reason))
        {
            reg.runs.remove(&id);
        }
    }

    /// The jobs running here (the rescuer must leave them alone).
    pub(super) fn running_ids(&self) -> Vec<JobId> {
        self.registry().runs.keys().copied().collect()
    }

    /// Stops the run of `id` if it runs here, or remembers the cancel for its runner.
    pub(super) fn stop_or_remember(&self, id: JobId) {
        let mut reg = self.registry();
        match reg.runs.get(&id) {
            Some(run) => run.stop(StopReason::Cancelled),
            None => {
                let now = Instant::now();
                reg.early_cancels
                    .retain(|_, at| now.duration_since(*at) < EARLY_CANCEL_TTL);
                reg.early_cancels.insert(id, now);
            }
        }
    }
}
