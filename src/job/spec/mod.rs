//! What a user asks for: the kind of a job with its typed parameters ([`JobSpec`]) and the
//! options of the run ([`SubmitOptions`]), parsed and validated once, at the edge.
//!
//! Parsing goes from a JSON object to types in two steps so that every error names the field
//! at fault: first the envelope (`kind`, `params`, `timeout_ms`, ...; [`submit`]), then the
//! parameters of the named kind.

mod error;
#[cfg(test)]
mod proptests;
mod submit;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::kinds::{count_primes, factorial, fetch_urls, sleep, word_count};

use super::Limits;
use error::parse_params;
pub use error::{SpecError, SpecErrorCode};
pub use submit::{
    MAX_ATTEMPTS, MAX_DEPENDENCIES, MAX_PRIORITY, MIN_PRIORITY, Submission, SubmitOptions,
    SubmitRequest,
};

/// The kinds of job faena runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Count the primes in `[start, end)` (CPU).
    CountPrimes,
    /// Digits, trailing zeros and leading digits of n! for a list of n (CPU).
    Factorial,
    /// Wait `ms` milliseconds (I/O).
    Sleep,
    /// Download a list of URLs concurrently, optionally saving the pages (I/O).
    FetchUrls,
    /// Count the words, lines and bytes of texts or of a `fetch_urls` job's pages (CPU).
    WordCount,
}

/// Where a kind runs: the CPU pool or the async runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobClass {
    Cpu,
    Io,
}

impl JobKind {
    pub const ALL: [JobKind; 5] = [
        Self::CountPrimes,
        Self::Factorial,
        Self::Sleep,
        Self::FetchUrls,
        Self::WordCount,
    ];

    /// The name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CountPrimes => "count_primes",
            Self::Factorial => "factorial",
            Self::Sleep => "sleep",
            Self::FetchUrls => "fetch_urls",
            Self::WordCount => "word_count",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn class(self) -> JobClass {
        match self {
            Self::CountPrimes | Self::Factorial | Self::WordCount => JobClass::Cpu,
            Self::Sleep | Self::FetchUrls => JobClass::Io,
        }
    }

    /// The kinds of one class, for claiming only what has a free slot.
    pub fn of_class(class: JobClass) -> Vec<JobKind> {
        Self::ALL
            .into_iter()
            .filter(|k| k.class() == class)
            .collect()
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job's kind with its parameters, typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "params", rename_all = "snake_case")]
pub enum JobSpec {
    CountPrimes(count_primes::Params),
    Factorial(factorial::Params),
    Sleep(sleep::Params),
    FetchUrls(fetch_urls::Params),
    WordCount(word_count::Params),
}

impl JobSpec {
    pub fn kind(&self) -> JobKind {
        match self {
            Self::CountPrimes(_) => JobKind::CountPrimes,
            Self::Factorial(_) => JobKind::Factorial,
            Self::Sleep(_) => JobKind::Sleep,
            Self::FetchUrls(_) => JobKind::FetchUrls,
            Self::WordCount(_) => JobKind::WordCount,
        }
    }

    /// Parses and validates the parameters of `kind` against `limits`.
    pub fn parse(kind: JobKind, params: Value, limits: &Limits) -> Result<Self, SpecError> {
        let spec = match kind {
            JobKind::CountPrimes => Self::CountPrimes(parse_params(params)?),
            JobKind::Factorial => Self::Factorial(parse_params(params)?),
            JobKind::Sleep => Self::Sleep(parse_params(params)?),
            JobKind::FetchUrls => Self::FetchUrls(parse_params(params)?),
            JobKind::WordCount => Self::WordCount(parse_params(params)?),
        };
        match &spec {
            Self::CountPrimes(p) => p.validate(limits),
            Self::Factorial(p) => p.validate(limits),
            Self::Sleep(p) => p.validate(limits),
            Self::FetchUrls(p) => p.validate(limits),
            Self::WordCount(p) => p.validate(limits),
        }?;
        Ok(spec)
    }

    /// Rebuilds the spec of a stored job (validated when it was accepted).
    pub fn from_stored(kind: JobKind, params: &Value) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            JobKind::CountPrimes => Self::CountPrimes(Deserialize::deserialize(params)?),
            JobKind::Factorial => Self::Factorial(Deserialize::deserialize(params)?),
            JobKind::Sleep => Self::Sleep(Deserialize::deserialize(params)?),
            JobKind::FetchUrls => Self::FetchUrls(Deserialize::deserialize(params)?),
            JobKind::WordCount => Self::WordCount(Deserialize::deserialize(params)?),
        })
    }

    /// The parameters as JSON, as stored and served.
    pub fn params_json(&self) -> Value {
        let value = match self {
            Self::CountPrimes(p) => serde_json::to_value(p),
            Self::Factorial(p) => serde_json::to_value(p),
            Self::Sleep(p) => serde_json::to_value(p),
            Self::FetchUrls(p) => serde_json::to_value(p),
            Self::WordCount(p) => serde_json::to_value(p),
        };
        // Plain structs of numbers, strings and ids always serialise.
        value.unwrap_or(Value::Null)
    }
}
