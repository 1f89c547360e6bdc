//! Starting a job at its insert: a submission that finds a slot of its job's class free here
//! takes it and asks the store to start the job ([`StartAtInsert`]). The store's writer does
//! so when it knows of nothing claimable of that class queued ahead (its last claim of the
//! class came back short and nothing was queued since, in commit order); the job is then
//! stored `running`, claimed by its own insert, and runs in the slot at once: no claim
//! transaction, no dispatcher wake-up. Otherwise the job is queued and the slot freed.
//!
//! The dispatcher counts the slots submissions hold as busy; a job started at insert while a
//! claim of the same class is on its way can only come with a queue the store thought empty,
//! so the claim finds nothing for that slot.

use std::sync::Arc;

use super::{Inner, run};
use crate::job::{Job, JobClass, JobKind, JobStatus};
use crate::store::{Claimed, Lease, StartAtInsert};

/// A slot taken for a job that its insert is to start. Dropped unused (the insert failed, or
/// stored the job otherwise), it frees the slot again.
pub struct StartSlot {
    rt: Arc<Inner>,
    class: JobClass,
    used: bool,
}

impl StartSlot {
    /// Takes a slot for a job of `kind` if this instance runs the kind and one is free.
    pub(super) fn take(rt: &Arc<Inner>, kind: JobKind) -> Option<Self> {
        let class = kind.class();
        let startable = !rt.stop_claiming.is_cancelled() && rt.config.kinds.contains(&kind);
        (startable && rt.slots(class).take(1) == 1).then(|| Self {
            rt: Arc::clone(rt),
            class,
            used: false,
        })
    }

    /// What to set as [`crate::store::NewJob::start`].
    pub fn claim(&self) -> StartAtInsert {
        StartAtInsert {
            owner: self.rt.config.instance_id.clone(),
            lease: self.rt.config.lease,
        }
    }

    /// Runs `job` in this slot if its insert started it here.
    pub(super) fn run(mut self, job: &Job) {
        if job.status != JobStatus::Running
            || job.instance.as_deref() != Some(&self.rt.config.instance_id)
        {
            return;
        }
        self.used = true;
        let claimed = Claimed {
            job: job.clone(),
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
