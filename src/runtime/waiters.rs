//! Who waits for which job: long-polls park here until the job they watch reaches a final
//! state (or their own time runs out).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::Notify;

use crate::job::JobId;

/// A map from job id to the [`Notify`] its waiters wait on. Entries live as long as a waiter
/// holds them.
#[derive(Debug, Default)]
pub struct Waiters {
    map: Mutex<HashMap<JobId, Weak<Notify>>>,
}

impl Waiters {
    /// The notifier of `id`. Create (and `enable`) a `notified()` future from it *before*
    /// reading the job, so that a finish between the read and the wait is not missed.
    pub fn watch(&self, id: JobId) -> Arc<Notify> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get(&id).and_then(Weak::upgrade) {
            return n;
        }
        if map.len() >= 1024 && map.len().is_power_of_two() {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let n = Arc::new(Notify::new());
        map.insert(id, Arc::downgrade(&n));
        n
    }

    /// Wakes everyone waiting for `id`.
    pub fn notify(&self, id: JobId) {
        let entry = self
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if let Some(n) = entry.and_then(|w| w.upgrade()) {
            n.notify_waiters();
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
        let n = waiters.watch(id);
        let notified = n.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        waiters.notify(id);
        notified.await;
        // The entry is gone once notified; a new watcher gets a fresh one.
        assert!(!Arc::ptr_eq(&n, &waiters.watch(id)));
    }
}
