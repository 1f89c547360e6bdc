//! What a job kind is: the [`Kind`] trait, the [`Registry`] that holds the kinds a server
//! runs, and the [`Ctl`] handed to a run.
//!
//! A kind owns everything about its jobs that is not the queue's business: the name they are
//! submitted with, where they run (the CPU pool or the async runtime), their parameters (a
//! serde type with a JSON Schema) and how they are checked against the server's bounds, the
//! output of a run that succeeded (a serde type with a schema), and the run itself. The
//! five built-in kinds ([`crate::kinds`]) register like any other; a program embedding faena
//! adds its own. Everything that lists kinds (the OpenAPI
//! document, `GET /kinds` and `GET /limits`, the dashboard's form, metrics, `/stats`) is
//! derived from the registry.
//!
//! A kind knows nothing of HTTP, SQL or scheduling: what it may need from the service
//! (stopping, progress, the CPU pool, saving pages, reading another job's pages) comes
//! through its [`Ctl`].

mod cpu;
mod ctl;
mod erased;
mod registry;
mod remote;
pub mod schema;

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::job::{JobError, JobErrorCode, JobId, SpecError};

pub use crate::job::{InvalidKindName, JobClass, JobKind};
pub use cpu::CpuPool;
pub(crate) use ctl::Signal;
pub use ctl::{Ctl, FileError, Files};
pub(crate) use erased::{DynKind, Parsed, RunError};
/// The handle [`Ctl::on_cpu`] gives CPU work: the run's stop flag and progress counter.
pub use faena_kernels::Ctl as KernelCtl;
pub use faena_kernels::Stopped;
pub use registry::{KindEntry, Registry, RegistryError};
pub use remote::{SchemaError, WorkerKind, WorkerOutput, WorkerParams};

/// A kind of job. Implement it, register it ([`Registry::register`]), and jobs of this kind
/// can be submitted, run, cancelled, retried and followed like those of the built-in kinds.
///
/// ```
/// use faena::kind::{Ctl, JobClass, Kind, KindError};
/// use serde::{Deserialize, Serialize};
///
/// /// Parameters: how far to count.
/// #[derive(Deserialize, Serialize, utoipa::ToSchema)]
/// #[serde(deny_unknown_fields)]
/// struct UpTo { n: u64 }
///
/// #[derive(Serialize, utoipa::ToSchema)]
/// struct Total { total: u64 }
///
/// struct SumTo;
///
/// impl Kind for SumTo {
///     type Params = UpTo;
///     type Output = Total;
///     fn name(&self) -> &str { "sum_to" }
///     fn class(&self) -> JobClass { JobClass::Cpu }
///     fn summary(&self) -> &str { "The sum of 1..=n (CPU)." }
///     async fn run(&self, params: UpTo, ctl: Ctl) -> Result<Total, KindError> {
///         ctl.on_cpu(move |k| {
///             k.check()?;
///             Ok(Total { total: params.n * (params.n + 1) / 2 })
///         })
///         .await
///     }
/// }
/// ```
pub trait Kind: Send + Sync + 'static {
    /// The parameters of a job, as submitted in `params` (a JSON object). Use
    /// `#[serde(deny_unknown_fields)]`: a misspelt field is then refused, naming it.
    type Params: DeserializeOwned + Serialize + ToSchema + Send + 'static;
    /// The result of a run that succeeded, stored and served as the job's `result`.
    type Output: Serialize + ToSchema + Send + 'static;

    /// The name jobs are submitted with: `[a-z][a-z0-9_]{0,63}`, unique in a registry.
    fn name(&self) -> &str;

    /// Where its runs go.
    fn class(&self) -> JobClass;

    /// What a job of this kind does, in one line (for the documentation and the dashboard).
    fn summary(&self) -> &str;

    /// Checks parameters beyond their type, against the bounds this kind was configured with.
    /// Name the field at fault with [`SpecError::param`].
    fn validate(&self, params: &Self::Params) -> Result<(), SpecError> {
        let _ = params;
        Ok(())
    }

    /// The bounds [`Kind::validate`] applies, as a JSON object (for `GET /limits`).
    fn limits(&self) -> serde_json::Value {
        serde_json::Value::Object(Default::default())
    }

    /// The JSON Schema of the parameters. The default is `Params`'s; override it to put the
    /// bounds this kind was configured with into it (see [`schema::set`]), so that a form can
    /// check them before submitting.
    fn params_schema(&self) -> serde_json::Value {
        schema::of::<Self::Params>()
    }

    /// Jobs whose saved files a run with these parameters reads. Each must exist, be visible
    /// to the submitter and save files ([`Kind::saves_files`]); it becomes a dependency.
    fn sources(&self, params: &Self::Params) -> Vec<JobId> {
        let _ = params;
        Vec::new()
    }

    /// Whether a run with these parameters saves files ([`Ctl::save_file`]) that other jobs
    /// may read as their source.
    fn saves_files(&self, params: &Self::Params) -> bool {
        let _ = params;
        false
    }

    /// Runs one attempt. Poll [`Ctl::check`] (or await [`Ctl::stopped`]) often and return
    /// [`KindError::Stopped`] soon after the run is stopped (deadline, cancel, shutdown).
    fn run(
        &self,
        params: Self::Params,
        ctl: Ctl,
    ) -> impl Future<Output = Result<Self::Output, KindError>> + Send;
}

/// How a run ended without an output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KindError {
    /// The run was stopped before it finished; the runtime knows why (deadline, cancel,
    /// shutdown) and records that.
    #[error("the run was stopped before it finished")]
    Stopped,
    /// The job cannot succeed: it fails with this error, without a retry.
    #[error("{}", .0.message)]
    Failed(JobError),
    /// The run failed for a reason that may pass (a transient I/O error): the job is tried
    /// again after a back-off while attempts remain, else fails with this error.
    #[error("{}", .0.message)]
    Retry(JobError),
}

impl KindError {
    /// A failure of the job store during the run (saving or reading files): retried.
    pub fn storage(what: &str, err: &FileError) -> Self {
        tracing::warn!(error = ?err, "{what} failed");
        Self::Retry(JobError::new(
            JobErrorCode::Storage,
            format!("{what} failed: {err}"),
        ))
    }
}

impl From<Stopped> for KindError {
    fn from(_: Stopped) -> Self {
        Self::Stopped
    }
}
