//! Starting a job at its insert: a submission that finds a slot of its job's class free here
//! takes it and asks the store to start the job ([`StartAtInsert`]). The store's writer does
//! so when nothing claimable of that class is queued ahead (it knows of nothing since its last
//! claim of the class came back short, and a query in the insert's transaction agrees); the
//! job is then stored `running`, claimed by its own insert, and runs in the slot at once: no
//! claim transaction, no dispatcher wake-up. Otherwise the job is queued and the slot freed.
//!
//! Slots are taken before use on both paths (here, and by the dispatcher before it claims),
//! so together they never run more jobs than there are slots.

use std::sync::Arc;

use tokio_util::task::task_tracker::TaskTrackerToken;

use super::{Inner, run};
use crate::job::{Job, JobClass, JobKind, JobStatus};
use crate::store::{Claimed, Lease, StartAtInsert};

/// A slot taken for a job that its insert is to start. Dropped unused (the insert failed, or
/// stored the job otherwise), it frees the slot again.
pub struct StartSlot {
    rt: Arc<Inner>,
    class: JobClass,
    used: bool,
    /// Keeps shutdown waiting until the slot is used or freed (a job started at an insert
    /// that commits during shutdown is run, and handed back, before the process ends).
    _running: TaskTrackerToken,
}

impl StartSlot {
    /// Takes a slot for a job of `kind` if this instance runs the kind and one is free.
    pub(super) fn take(rt: &Arc<Inner>, kind: JobKind) -> Option<Self> {
        let class = rt.kinds.get(kind.as_str()).filter(|k| k.enabled())?.class();
        let startable = !rt.stop_claiming.is_cancelled();
        (startable && rt.slots(class).take(1) == 1).then(|| Self {
            rt: Arc::clone(rt),
            class,
            used: false,
            _running: rt.tasks.token(),
        })
    }

    /// What to set as [`crate::store::NewJob::start`].
    pub fn claim(&self) -> StartAtInsert {
        StartAtInsert {
            owner: self.rt.config.instance_id.clone(),
            lease: self.rt.config.lease,
            class: self.class,
            kinds: self.rt.kinds.of_class(self.class),
        }
    }

    /// Runs `job` in this slot if its insert started it here.
    pub(super) fn run(mut self, job: &Arc<Job>) {
        if job.status != JobStatus::Running
            || job.instance.as_deref() != Some(&self.rt.config.instance_id)
        {
            return;
        }
        self.used = true;
        let claimed = Claimed {
            job: Arc::clone(job),
            lease: Lease::at_insert(job.id),
        };
        let rt = Arc::clone(&self.rt);
        self.rt.tasks.spawn(run::attempt(rt, claimed, self.class));
    }
}

impl Drop for StartSlot {
    fn drop(&mut self) {
        if !self.used {
            self.rt.slots(self.class).give_back(1);
            self.rt.wake.notify_one();
        }
    }
}
