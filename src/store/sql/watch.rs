//! What the writer knows of the queue, in commit order: whether anything claimable of a job
//! class is queued. A job asking to start at its insert ([`crate::store::StartAtInsert`]) is
//! started only when nothing of its class is: it never goes ahead of a job queued before it.
//!
//! A class is drained once a committed claim of it came back with fewer jobs than it asked
//! for, until a commit makes jobs claimable again (an insert that queues, a hand-back, a retry,
//! released dependents, recovered runs) or [`QueueWatch::grew`] says something else did
//! (another process's submission, a delayed job come due). Writes of one transaction are
//! concurrent requests: deciding from the state at its start is one valid order of them.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::job::JobClass;

/// Per job class, whether nothing claimable is queued (as far as this writer knows).
#[derive(Debug, Default)]
pub(crate) struct QueueWatch {
    /// Moves on whenever jobs may have become claimable.
    epoch: AtomicU64,
    /// Per class (see [`index`]): 1 + the epoch in which a claim came back short; 0: never.
    drained: [AtomicU64; CLASSES],
}

/// What a transaction starts from: the epoch, and per class whether it is drained.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Snapshot {
    epoch: u64,
    drained: [bool; CLASSES],
}

impl Snapshot {
    /// Nothing claimable of `class` was queued when the transaction began.
    pub(crate) fn is_drained(&self, class: JobClass) -> bool {
        self.drained[index(class)]
    }
}

impl QueueWatch {
    /// At the start of a transaction.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let epoch = self.epoch.load(Ordering::Acquire);
        let drained = std::array::from_fn(|i| self.drained[i].load(Ordering::Acquire) == epoch + 1);
        Snapshot { epoch, drained }
    }

    /// Jobs may have become claimable: nothing starts at insert until a claim finds the
    /// queue empty again.
    pub(crate) fn grew(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// What a transaction begun at `at` showed once committed: claims that came back short
    /// (`drained`), or that it queued jobs (which wins: within a transaction the order is not
    /// known). Anything said to have grown meanwhile also wins.
    pub(super) fn committed(&self, at: Snapshot, drained: &[JobClass], queued: bool) {
        if queued {
            self.grew();
            return;
        }
        for &class in drained {
            self.drained[index(class)].store(at.epoch + 1, Ordering::Release);
        }
    }
}

/// How many classes there are ([`JobClass`]).
const CLASSES: usize = 3;

/// A class's place in the arrays.
fn index(class: JobClass) -> usize {
    match class {
        JobClass::Cpu => 0,
        JobClass::Io => 1,
        JobClass::Worker => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drained(watch: &QueueWatch) -> [bool; 2] {
        let s = watch.snapshot();
        [s.is_drained(JobClass::Cpu), s.is_drained(JobClass::Io)]
    }

    #[test]
    fn a_short_claim_drains_its_class_until_anything_is_queued() {
        let watch = QueueWatch::default();
        assert_eq!(drained(&watch), [false, false], "unknown at start");
        watch.committed(watch.snapshot(), &[JobClass::Io], false);
        assert_eq!(drained(&watch), [false, true]);
        watch.committed(watch.snapshot(), &[JobClass::Cpu], true);
        assert_eq!(
            drained(&watch),
            [false, false],
            "queued in the same commit wins"
        );
        watch.committed(watch.snapshot(), &[JobClass::Cpu, JobClass::Io], false);
        assert_eq!(drained(&watch), [true, true]);
        watch.committed(watch.snapshot(), &[], false);
        assert_eq!(
            drained(&watch),
            [true, true],
            "a commit that queues nothing"
        );
        watch.grew();
        assert_eq!(drained(&watch), [false, false]);
    }

    #[test]
    fn growth_during_a_transaction_outweighs_its_short_claims() {
        let watch = QueueWatch::default();
        let begun = watch.snapshot();
        watch.grew();
        watch.committed(begun, &[JobClass::Cpu], false);
        assert_eq!(drained(&watch), [false, false]);
    }
}
