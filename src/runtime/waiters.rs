//! Who waits for which job: long-polls park here until the job they watch reaches a final
//! state (or their own time runs out). The observer of commits hands each final job over as
//! it is committed, so the waiters need not read it back from the store.
//!
//! The waiters also know which jobs submitted here are surely not final yet ([`Waiters::
//! expect`]): every commit that makes a job final ends in [`Waiters::notify`] (the observer
//! sees them all; when it may have missed some, [`Waiters::notify_all`]), which forgets it. A long-poll of such a job can
//! start waiting without reading it first: under load that read is most of the database work
//! of a long-poll.

use std::collections::{HashMap, HashSet};
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

/// A map from job id to its [`Watch`] (entries live as long as a waiter holds them), and the
/// jobs known not to be final.
#[derive(Debug, Default)]
pub struct Waiters {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    watches: HashMap<JobId, Weak<Watch>>,
    pending: HashSet<JobId>,
}

/// Most jobs remembered as not final (beyond, long-polls read them first, as any other).
const MAX_PENDING: usize = 100_000;

impl Waiters {
    /// The watch of `id`. Create (and `enable`) a `notified()` future from it *before* reading
    /// the job, so that a finish between the read and the wait is not missed.
    pub fn watch(&self, id: JobId) -> Arc<Watch> {
        let mut inner = self.lock();
        let map = &mut inner.watches;
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers that `id` is not final (call before the job can possibly end: before it is
    /// even inserted).
    pub fn expect(&self, id: JobId) {
        let mut inner = self.lock();
        if inner.pending.len() < MAX_PENDING {
            inner.pending.insert(id);
        }
    }

    /// Whether `id` is surely not final (see [`Waiters::expect`]).
    pub fn is_pending(&self, id: JobId) -> bool {
        self.lock().pending.contains(&id)
    }

    /// Forgets `id` without waking anyone (its insert failed).
    pub fn forget(&self, id: JobId) {
        self.lock().pending.remove(&id);
    }

    /// Wakes every waiter (they read their job again) and forgets what was pending: for
    /// changes made in bulk, or events that may have been lost.
    pub fn notify_all(&self) {
        let entries: Vec<_> = {
            let mut inner = self.lock();
            inner.pending.clear();
            inner.watches.drain().collect()
        };
        for (_, w) in entries {
            if let Some(w) = w.upgrade() {
                w.notify.notify_waiters();
            }
        }
    }

    /// Wakes everyone waiting for `id`, handing over (a copy of) the final job when it is
    /// known.
    pub fn notify(&self, id: JobId, done: Option<&Job>) {
        let entry = {
            let mut inner = self.lock();
            inner.pending.remove(&id);
            inner.watches.remove(&id)
        };
        if let Some(w) = entry.and_then(|w| w.upgrade()) {
            if let Some(job) = done {
                let _ = w.done.set(job.clone());
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

    #[test]
    fn a_pending_job_is_forgotten_by_any_notify() {
        let waiters = Waiters::default();
        let (a, b, c) = (JobId::new(), JobId::new(), JobId::new());
        for id in [a, b, c] {
            waiters.expect(id);
        }
        waiters.notify(a, None);
        waiters.forget(b);
        assert!(!waiters.is_pending(a) && !waiters.is_pending(b) && waiters.is_pending(c));
        waiters.notify_all();
        assert!(!waiters.is_pending(c));
    }
}
