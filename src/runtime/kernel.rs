//! Running a job's kind, and what it may use of the store ([`RunFiles`]); turns what the run
//! returned into an [`Outcome`], given why it was stopped if it was.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;

use super::Inner;
use super::runs::{RunHandle, StopReason};
use crate::job::{FileData, FileInfo, Job, JobError, JobErrorCode, JobId, JobResult, NewFile};
use crate::kind::{Ctl, FileError, Files, KindError, RunError};
use crate::store::{Lease, Outcome, Store};

/// What the run of a kind came back with.
pub(super) enum KernelEnd {
    Done(JobResult),
    Stopped,
    /// The job cannot succeed (its input is gone): failed, not retried.
    Failed(JobError),
    /// The run failed for a reason that may pass (a transient I/O error): retried while
    /// attempts remain.
    Retry(JobError),
    Crashed(String),
}

/// Runs attempt `lease` of `job` with its kind, through `ctl`.
pub(super) async fn run(rt: Arc<Inner>, job: &Job, ctl: Ctl) -> KernelEnd {
    let Some(kind) = rt.kinds.get(job.kind.as_str()) else {
        return KernelEnd::Crashed(format!("no kind `{}` is registered here", job.kind));
    };
    match kind.run(&job.params, ctl).await {
        Ok(result) => KernelEnd::Done(result),
        Err(RunError::Kind(KindError::Stopped)) => KernelEnd::Stopped,
        Err(RunError::Kind(KindError::Failed(error))) => KernelEnd::Failed(error),
        Err(RunError::Kind(KindError::Retry(error))) => KernelEnd::Retry(error),
        Err(RunError::Crashed(why)) => KernelEnd::Crashed(why),
    }
}

/// The files of jobs as a run of `lease` sees them: its own saved (and cleared) under its
/// lease, any job's read.
pub(super) struct RunFiles {
    pub store: Arc<Store>,
    pub lease: Lease,
}

fn store_error(err: &crate::store::StoreError) -> FileError {
    FileError::Store(crate::error_chain::text(err))
}

#[async_trait]
impl Files for RunFiles {
    async fn save(&self, file: NewFile) -> Result<(), FileError> {
        match self.store.save_file(self.lease, file).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(FileError::LeaseLost),
            Err(err) => Err(store_error(&err)),
        }
    }

    async fn clear(&self) -> Result<(), FileError> {
        match self.store.clear_files(self.lease).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(FileError::LeaseLost),
            Err(err) => Err(store_error(&err)),
        }
    }

    async fn list(&self, id: JobId) -> Result<Option<Vec<FileInfo>>, FileError> {
        let files = self
            .store
            .list_files(id)
            .await
            .map_err(|e| store_error(&e))?;
        if files.is_empty() && matches!(self.store.get(id).await, Ok(None)) {
            return Ok(None);
        }
        Ok(Some(files))
    }

    async fn read(&self, id: JobId, indices: Range<u32>) -> Result<Vec<FileData>, FileError> {
        (self.store.read_files(id, indices).await).map_err(|e| store_error(&e))
    }
}

/// The outcome of a kernel that returned.
pub(super) fn outcome_of(end: KernelEnd, handle: &RunHandle, timeout_ms: u64) -> Outcome {
    match end {
        KernelEnd::Done(value) => Outcome::Succeeded(value),
        KernelEnd::Stopped => stopped_outcome(handle, timeout_ms),
        KernelEnd::Failed(error) => Outcome::Failed(error),
        KernelEnd::Retry(error) => Outcome::Retry(error),
        KernelEnd::Crashed(why) => {
            tracing::error!(%why, "kernel crashed");
            Outcome::Failed(JobError::new(
                JobErrorCode::Internal,
                "the job's kernel failed unexpectedly",
            ))
        }
    }
}

/// The outcome of a run stopped before its kernel finished.
pub(super) fn stopped_outcome(handle: &RunHandle, timeout_ms: u64) -> Outcome {
    match handle.reason.get() {
        Some(StopReason::Deadline) => Outcome::TimedOut(JobError::new(
            JobErrorCode::TimedOut,
            format!("the run passed its deadline of {timeout_ms} ms"),
        )),
        Some(StopReason::Cancelled) => Outcome::Cancelled(JobError::new(
            JobErrorCode::Cancelled,
            "cancelled by request while running",
        )),
        // Handed back; if the lease was lost the fenced write is refused anyway.
        Some(StopReason::Shutdown | StopReason::LeaseLost) | None => Outcome::Requeue,
    }
}
