//! [`Ctl`]: what a run of a kind may use of the service, and nothing more: its stop signal
//! (a deadline, a user's cancel and shutdown all stop a run the same way, and it never learns
//! which), its progress, the CPU pool, and the files of jobs (saving its own, fenced by its
//! lease; reading those of its source jobs). No SQL, no HTTP.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{CpuPool, KindError};
use crate::job::{FileData, FileInfo, JobId, NewFile};
use faena_kernels::{Progress, Stopped};

/// The files of jobs, as a run sees them (implemented by the runtime on the job store).
#[async_trait]
pub trait Files: Send + Sync {
    /// Saves a file of the running job, replacing one of the same index; fenced by the run's
    /// lease ([`FileError::LeaseLost`] when the run no longer owns its job).
    async fn save(&self, file: NewFile) -> Result<(), FileError>;
    /// Removes the files earlier attempts of the running job saved; fenced likewise.
    async fn clear(&self) -> Result<(), FileError>;
    /// The files of job `id`, by index; `None` when the job does not exist (any more).
    async fn list(&self, id: JobId) -> Result<Option<Vec<FileInfo>>, FileError>;
    /// The files of job `id` whose index is in `indices`, with their content, by index.
    async fn read(&self, id: JobId, indices: Range<u32>) -> Result<Vec<FileData>, FileError>;
}

/// Why a file could not be saved or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// The run no longer owns its job (it was finished, rescued or claimed again): stop.
    #[error("the run lost its lease")]
    LeaseLost,
    /// The job store failed (the text of the error and its causes).
    #[error("{0}")]
    Store(String),
    /// This run has no files (a [`Ctl::detached`] one).
    #[error("no job store is attached to this run")]
    Detached,
}

/// The stop signal of a run: the kernels' flag (polled between units of work, with the
/// progress counter) and a token for async code to await. Tripped once, for good.
#[derive(Debug, Clone, Default)]
pub(crate) struct Signal {
    kernel: faena_kernels::Ctl,
    token: CancellationToken,
}

impl Signal {
    /// Stops the run: [`Ctl::check`] fails and [`Ctl::stopped`] completes from now on.
    pub(crate) fn stop(&self) {
        self.kernel.stop();
        self.token.cancel();
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.kernel.is_stopped()
    }

    pub(crate) fn token(&self) -> &CancellationToken {
        &self.token
    }

    pub(crate) fn progress(&self) -> &Arc<Progress> {
        self.kernel.progress()
    }
}

/// What a run is, besides its signal.
struct Run {
    job: JobId,
    attempt: u32,
    max_attempts: u32,
    deadline: Instant,
    cpu: CpuPool,
    files: Option<Arc<dyn Files>>,
}

/// The handle a run of a kind holds. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Ctl {
    signal: Signal,
    run: Arc<Run>,
}

impl std::fmt::Debug for Ctl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctl")
            .field("job", &self.run.job)
            .field("attempt", &self.run.attempt)
            .field("stopped", &self.is_stopped())
            .finish_non_exhaustive()
    }
}

impl Ctl {
    /// The handle of attempt `attempt` (of `max_attempts`) of job `job`.
    pub(crate) fn new(
        signal: Signal,
        job: JobId,
        (attempt, max_attempts): (u32, u32),
        deadline: Instant,
        cpu: CpuPool,
        files: Arc<dyn Files>,
    ) -> Self {
        let run = Run {
            job,
            attempt,
            max_attempts,
            deadline,
            cpu,
            files: Some(files),
        };
        Self {
            signal,
            run: Arc::new(run),
        }
    }

    /// A handle outside any service, for running a kind alone (its tests, a benchmark): the
    /// first of one attempt, on `cpu`, without files, stopped only by [`Ctl::stop`].
    pub fn detached(cpu: CpuPool) -> Self {
        let run = Run {
            job: JobId::new(),
            attempt: 1,
            max_attempts: 1,
            deadline: Instant::now() + std::time::Duration::from_secs(86_400 * 365),
            cpu,
            files: None,
        };
        Self {
            signal: Signal::default(),
            run: Arc::new(run),
        }
    }

    /// Stops the run (what the service does at a deadline, a cancel or shutdown).
    pub fn stop(&self) {
        self.signal.stop();
    }

    /// `Err(Stopped)` once the run has been stopped.
    pub fn check(&self) -> Result<(), Stopped> {
        self.signal.kernel.check()
    }

    /// Whether the run has been stopped.
    pub fn is_stopped(&self) -> bool {
        self.signal.is_stopped()
    }

    /// Completes once the run is stopped, for async code to `select!` on.
    pub async fn stopped(&self) {
        self.signal.token.cancelled().await;
    }

    /// Declares how many units of work the run has (resets `done` to 0).
    pub fn set_total(&self, total: u64) {
        self.signal.kernel.set_total(total);
    }

    /// Marks `n` more units of work as done.
    pub fn advance(&self, n: u64) {
        self.signal.kernel.advance(n);
    }

    /// `(done, total)` as last reported.
    pub fn progress(&self) -> (u64, u64) {
        self.signal.progress().get()
    }

    /// The job this run belongs to.
    pub fn job_id(&self) -> JobId {
        self.run.job
    }

    /// This attempt's number (1 for the first run).
    pub fn attempt(&self) -> u32 {
        self.run.attempt
    }

    /// Whether no attempt would follow this one if it failed with [`KindError::Retry`].
    pub fn is_last_attempt(&self) -> bool {
        self.run.attempt >= self.run.max_attempts
    }

    /// When the service stops the run for its deadline (`timeout_ms` from its start).
    pub fn deadline(&self) -> Instant {
        self.run.deadline
    }

    /// Runs `work` on the CPU pool, without blocking the async runtime, and waits for it.
    /// `work` gets the kernels' handle (the same stop flag and progress counter as this one)
    /// and may fork on the pool (rayon's `join`, `par_iter`). A panic in it fails the job as
    /// an internal error.
    pub async fn on_cpu<T, F>(&self, work: F) -> Result<T, KindError>
    where
        T: Send + 'static,
        F: FnOnce(&faena_kernels::Ctl) -> Result<T, Stopped> + Send + 'static,
    {
        let kernel = self.signal.kernel.clone();
        let work = move || {
            tracing::debug!("kernel running on the CPU pool");
            let result = work(&kernel);
            tracing::debug!(stopped = result.is_err(), "kernel returned");
            result
        };
        match self.run.cpu.run(work).await {
            Ok(result) => Ok(result?),
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(_) => Err(KindError::Stopped),
        }
    }

    fn files(&self) -> Result<&Arc<dyn Files>, FileError> {
        self.run.files.as_ref().ok_or(FileError::Detached)
    }

    /// Saves a file of this job (fenced by the run's lease).
    pub async fn save_file(&self, file: NewFile) -> Result<(), FileError> {
        self.files()?.save(file).await
    }

    /// Removes the files earlier attempts of this job saved.
    pub async fn clear_files(&self) -> Result<(), FileError> {
        self.files()?.clear().await
    }

    /// The files job `id` saved, by index; `None` when that job does not exist.
    pub async fn list_files(&self, id: JobId) -> Result<Option<Vec<FileInfo>>, FileError> {
        self.files()?.list(id).await
    }

    /// The files of job `id` whose index is in `indices`, with their content.
    pub async fn read_files(
        &self,
        id: JobId,
        indices: Range<u32>,
    ) -> Result<Vec<FileData>, FileError> {
        self.files()?.read(id, indices).await
    }
}
