//! Who waits for which job: long-polls park here until the job they watch reaches a final
//! state (or their own time runs out). Whoever finishes a job hands the final job over, so the
//! waiters need not read it back from the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use tokio::sync::Notify;

use crate::job::{Job, JobId};

/// What the waiters of one job share.
#[derive(Debug, Default)]
pub struct Watch {
    notify: Notify,
    done: OnceLock<Job>,
}

impl Watch {
    /// Waits until the job is final. Call [`Watch::enabled`] first and await its result, so
    /// that a finish between the read and the wait is not missed.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    /// The final job, when the one who finished it handed it over.
    pub fn final_job(&self) -> Option<&Job> {
        self.done.get()
    }
}

/// A map from job id to its [`Watch`]. Entries live as long as a waiter holds them.
#[derive(Debug, Default)]
pub struct Waiters {
    map: Mutex<HashMap<JobId, Weak<Watch>>>,
}

impl Waiters {
    /// The watch of `id`. Create (and `enable`) a `notified()` future from it *before* reading
    /// the job, so that a finish between the read and the wait is not missed.
    pub fn watch(&self, id: JobId) -> Arc<Watch> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = map.get(&id).and_then(Weak::upgrade) {
            return w;
        }
        if map.len() >= 1024 && map.len().is_power_of_two() {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let w = Arc::new(Watch::default());
        map.insert(id, Arc::downgrade(&w));
        w
    }

    /// Wakes every waiter (they read their job again): for changes made in bulk.
    pub fn notify_all(&self) {
        let entries: Vec<_> = self
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        for (_, w) in entries {
            if let Some(w) = w.upgrade() {
                w.notify.notify_waiters();
            }
        }
    }

    /// Wakes everyone waiting for `id`, handing over the final job when it is known.
    pub fn notify(&self, id: JobId, done: Option<Job>) {
        let entry = self
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if let Some(w) = entry.and_then(|w| w.upgrade()) {
            if let Some(job) = done {
                let _ = w.done.set(job);
            }
            w.notify.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_notify_after_enable_is_not_missed() {
        let waiters = Waiters::default();
        let id = JobId::new();
        let w = waiters.watch(id);
        let notified = w.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        waiters.notify(id, None);
        notified.await;
        assert!(w.final_job().is_none());
        // The entry is gone once notified; a new watcher gets a fresh one.
        assert!(!Arc::ptr_eq(&w, &waiters.watch(id)));
    }
}
