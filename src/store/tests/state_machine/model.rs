//! What the test knows of the store (every job as last read, every lease handed out, which
//! are live), and the checks made after every step.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use proptest::sample::Index;

use super::ok;
use super::steps::{End, Step};
use crate::job::{Job, JobError, JobErrorCode, JobId, JobResult, JobStatus};
use crate::store::Lease;
use crate::store::tests::TestStore;

#[derive(Default)]
pub(super) struct Model {
    /// Every job inserted, in order, as last read; `None` once deleted.
    pub(super) jobs: Vec<(JobId, Option<Job>)>,
    /// Every lease handed out, in order.
    pub(super) leases: Vec<Lease>,
    /// The live lease of each running job, and whether a cancel of it was accepted.
    pub(super) live: HashMap<JobId, (Lease, bool)>,
}

/// What a job must look like after the step, beyond the invariants.
pub(super) enum Expect {
    Status(JobId, JobStatus),
    /// Unchanged in every field.
    Same(JobId),
    /// A run settled by a rescue or a recovery, with a cancel pending or not.
    Settled(JobId, bool),
}

/// The parts of a job that never change once it is final.
type Frozen<'a> = (
    JobStatus,
    Option<&'a JobResult>,
    Option<&'a JobError>,
    Option<DateTime<Utc>>,
    u32,
);

fn frozen(job: &Job) -> Frozen<'_> {
    (
        job.status,
        job.result.as_ref(),
        job.error.as_ref(),
        job.finished_at,
        job.attempt,
    )
}

impl Model {
    pub(super) fn job(&self, id: JobId) -> Option<&Job> {
        self.jobs.iter().find(|(j, _)| *j == id)?.1.as_ref()
    }

    /// The job picked by `index` (`None` while there is none), as last read.
    pub(super) fn pick(&self, index: &Index) -> Option<(JobId, Option<Job>)> {
        (!self.jobs.is_empty()).then(|| index.get(&self.jobs).clone())
    }

    pub(super) fn is_live(&self, lease: Lease) -> bool {
        self.live.get(&lease.id).is_some_and(|(l, _)| *l == lease)
    }

    /// Whether a cancel of the running job `id` was accepted.
    pub(super) fn cancel_pending(&self, id: JobId) -> bool {
        self.live.get(&id).is_some_and(|(_, cancel)| *cancel)
    }

    /// A lease picked by `index`: a live one unless `stale` (or there is none); else the
    /// last lease of a job that is not running, which holds the job's latest fencing token
    /// (any lease when there is none).
    pub(super) fn lease(&self, index: &Index, stale: bool) -> Option<Lease> {
        let live: Vec<Lease> = self.running().iter().map(|id| self.live[id].0).collect();
        let mut last: Vec<Lease> = Vec::new();
        for lease in self.leases.iter().rev() {
            if !self.live.contains_key(&lease.id) && last.iter().all(|l| l.id != lease.id) {
                last.push(*lease);
            }
        }
        let from = match (stale, live.is_empty(), last.is_empty()) {
            (false, false, _) | (true, false, true) => &live,
            (_, _, false) => &last,
            (_, true, true) => &self.leases,
        };
        (!from.is_empty()).then(|| *index.get(from))
    }

    /// The running jobs, in insertion order.
    pub(super) fn running(&self) -> Vec<JobId> {
        let running = |(id, _): &&(JobId, Option<Job>)| self.live.contains_key(id);
        self.jobs
            .iter()
            .filter(running)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Reads every job back and checks the invariants against what was seen before `step`,
    /// then what `step` must have done.
    pub(super) async fn check(
        &mut self,
        store: &TestStore,
        step: &Step,
        expect: Vec<Expect>,
    ) -> Result<(), String> {
        let before: HashMap<JobId, Option<Job>> = self.jobs.iter().cloned().collect();
        let handed_back = matches!(
            step,
            Step::Finish {
                end: End::Requeue,
                ..
            }
        );
        for (id, seen) in &mut self.jobs {
            let now = ok(store.get(*id).await, "get")?;
            match (&seen, &now) {
                (None, None) => {}
                (None, Some(job)) => return Err(format!("deleted, then back: {job:?}")),
                (Some(job), None) => return Err(format!("vanished: {job:?}")),
                (Some(prev), Some(job)) => invariants(prev, job, handed_back)?,
            }
            *seen = now;
        }
        // Only the test claims: a job runs exactly while the test holds its live lease.
        for (id, job) in &self.jobs {
            match job {
                Some(job) if job.status == JobStatus::Running => {
                    ensure!(
                        self.live.contains_key(id),
                        "running, never claimed: {job:?}"
                    );
                }
                _ => {
                    self.live.remove(id);
                }
            }
        }
        for e in expect {
            self.expected(&e, &before)
                .map_err(|why| format!("{step:?}: {why}"))?;
        }
        Ok(())
    }

    /// Checks that the step did to one job what `e` says.
    fn expected(&self, e: &Expect, before: &HashMap<JobId, Option<Job>>) -> Result<(), String> {
        let (id, ok) = match e {
            Expect::Status(id, status) => (id, self.job(*id).map(|j| j.status) == Some(*status)),
            Expect::Same(id) => (id, self.job(*id) == before[id].as_ref()),
            Expect::Settled(id, cancel_pending) => {
                let prev = before[id].as_ref().ok_or("settled a deleted job")?;
                let want = match (cancel_pending, prev.attempt >= prev.max_attempts) {
                    (true, _) => (JobStatus::Cancelled, Some(JobErrorCode::Cancelled)),
                    (false, true) => (JobStatus::Failed, Some(JobErrorCode::Interrupted)),
                    // Queued again, showing why its last run stopped until the next claim.
                    (false, false) => (JobStatus::Queued, Some(JobErrorCode::Interrupted)),
                };
                let now = self.job(*id);
                let got = now.map(|j| (j.status, j.error.as_ref().map(|e| e.code)));
                let same_attempt = now.is_some_and(|j| j.attempt == prev.attempt);
                (id, got == Some(want) && same_attempt)
            }
        };
        ensure!(ok, "{:?} -> {:?}", before[id], self.job(*id));
        Ok(())
    }
}

/// The invariants between two reads of a job, `prev` before a step and `job` after it;
/// `handed_back`: the step was a hand-back, which may take back the attempt of its claim.
fn invariants(prev: &Job, job: &Job, handed_back: bool) -> Result<(), String> {
    if prev.is_final() {
        ensure!(
            frozen(prev) == frozen(job),
            "left a final state: {prev:?} -> {job:?}"
        );
    }
    let taken_back =
        handed_back && job.attempt + 1 == prev.attempt && job.status == JobStatus::Queued;
    ensure!(
        job.attempt >= prev.attempt || taken_back,
        "attempt went down: {prev:?} -> {job:?}"
    );
    if job.is_final() {
        let succeeded = job.status == JobStatus::Succeeded;
        ensure!(
            job.finished_at.is_some()
                && job.result.is_some() == succeeded
                && job.error.is_some() != succeeded,
            "final but inconsistent: {job:?}"
        );
    }
    Ok(())
}
