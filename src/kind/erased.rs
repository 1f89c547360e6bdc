//! The [`Kind`] trait with its types erased: what the registry stores and the service calls.
//! Parameters and outputs cross it as JSON, typed on each side by the kind's own serde types.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Deserialize as _;
use serde_json::Value;

use super::{Ctl, Kind, KindError};
use crate::job::spec::parse_params;
use crate::job::{JobId, JobResult, SpecError};

/// A submission's parameters once parsed and checked by their kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parsed {
    /// As stored and served: the typed parameters serialised again (defaults filled in).
    pub params: Value,
    /// Jobs whose files a run reads ([`Kind::sources`]).
    pub sources: Vec<JobId>,
}

/// How a run ended, erased.
pub(crate) type RunResult = Result<JobResult, RunError>;

/// Why a run did not produce a result.
#[derive(Debug)]
pub(crate) enum RunError {
    Kind(KindError),
    /// The stored parameters no longer parse, or the output does not serialise: a bug.
    Crashed(String),
}

/// [`Kind`], object-safe.
pub(crate) trait DynKind: Send + Sync {
    fn summary(&self) -> &str;
    fn limits(&self) -> Value;
    fn params_schema(&self) -> Value;
    fn output_schema(&self) -> Value;
    /// Parses `params` (the submitted JSON) and checks them.
    fn parse(&self, params: Value) -> Result<Parsed, SpecError>;
    /// Whether a stored job with these parameters saves files.
    fn saves_files(&self, params: &Value) -> bool;
    /// Runs one attempt with the stored `params`.
    fn run(self: Arc<Self>, params: &Value, ctl: Ctl) -> BoxFuture<'static, RunResult>;
}

/// The adapter from a [`Kind`] to [`DynKind`].
pub(crate) struct Erased<K>(pub K);

impl<K: Kind> DynKind for Erased<K> {
    fn summary(&self) -> &str {
        self.0.summary()
    }

    fn limits(&self) -> Value {
        self.0.limits()
    }

    fn params_schema(&self) -> Value {
        self.0.params_schema()
    }

    fn output_schema(&self) -> Value {
        super::schema::of::<K::Output>()
    }

    fn parse(&self, params: Value) -> Result<Parsed, SpecError> {
        let typed: K::Params = parse_params(params)?;
        self.0.validate(&typed)?;
        let sources = self.0.sources(&typed);
        // Plain serde data serialises; a type that does not is refused like bad input.
        let params = serde_json::to_value(&typed)
            .map_err(|e| SpecError::params(format!("the parameters do not serialise: {e}")))?;
        Ok(Parsed { params, sources })
    }

    fn saves_files(&self, params: &Value) -> bool {
        K::Params::deserialize(params).is_ok_and(|typed| self.0.saves_files(&typed))
    }

    fn run(self: Arc<Self>, params: &Value, ctl: Ctl) -> BoxFuture<'static, RunResult> {
        let typed = K::Params::deserialize(params);
        Box::pin(async move {
            let typed = typed.map_err(|e| {
                RunError::Crashed(format!("stored parameters no longer parse: {e}"))
            })?;
            let output = self.0.run(typed, ctl).await.map_err(RunError::Kind)?;
            JobResult::of(&output)
                .map_err(|e| RunError::Crashed(format!("the result does not serialise: {e}")))
        })
    }
}
