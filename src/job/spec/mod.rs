//! What a user asks for: a job's kind and parameters and the options of its runs
//! ([`SubmitOptions`]), parsed and validated once, at the edge.
//!
//! Parsing goes from a JSON object to types in two steps so that every error names the field
//! at fault: first the envelope (`kind`, `params`, `timeout_ms`, ...; [`submit`]), then the
//! parameters, by the named kind (`crate::kind::Registry::submission`).

mod error;
mod submit;

pub use error::{SpecError, SpecErrorCode};
pub(crate) use error::{from_value, parse_params};
pub use submit::{
    MAX_ATTEMPTS, MAX_DEPENDENCIES, MAX_PRIORITY, MIN_PRIORITY, Submission, SubmitOptions,
    SubmitRequest,
};
