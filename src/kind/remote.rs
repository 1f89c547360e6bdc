//! Worker kinds: declared on the server (`--worker-kinds resize,send_email`) and run by remote
//! workers, in any language, that claim their jobs over HTTP (`POST /workers/claim`) and
//! answer for them (`/jobs/{id}/heartbeat`, `/complete`, `/fail`). The server stores and
//! checks their jobs like any other (a JSON object of parameters), queues, retries, times out
//! and rescues them; it never runs them: their class, [`JobClass::Worker`], has no slots here.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{Ctl, JobClass, Kind, KindError};
use crate::job::{JobError, JobErrorCode};

/// A kind whose jobs remote workers run.
#[derive(Debug, Clone)]
pub struct WorkerKind {
    name: String,
    summary: String,
}

impl WorkerKind {
    /// The worker kind `name` (`[a-z][a-z0-9_]{0,63}`, checked when it is registered).
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        let summary = format!("Run by remote workers (`POST /workers/claim` with kind `{name}`).");
        Self { name, summary }
    }
}

/// A worker kind's parameters: any JSON object, handed to the worker as submitted.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct WorkerParams(Map<String, Value>);

/// A worker kind's result: whatever JSON the worker completed the job with.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct WorkerOutput(Value);

impl Kind for WorkerKind {
    type Params = WorkerParams;
    type Output = WorkerOutput;

    fn name(&self) -> &str {
        &self.name
    }

    fn class(&self) -> JobClass {
        JobClass::Worker
    }

    fn summary(&self) -> &str {
        &self.summary
    }

    async fn run(&self, _: WorkerParams, _: Ctl) -> Result<WorkerOutput, KindError> {
        // Never called: the class has no slots in the server.
        Err(KindError::Failed(JobError::new(
            JobErrorCode::Internal,
            format!("`{}` jobs run on remote workers", self.name),
        )))
    }
}
