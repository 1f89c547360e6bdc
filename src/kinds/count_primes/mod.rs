//! `count_primes`: how many primes lie in `[start, end)`, on the CPU pool, either by a segmented
//! sieve of the range ([`sieve`]) or as π(end − 1) − π(start − 1) ([`pi`], combinatorial), as
//! [`Method::for_range`] estimates cheaper: narrow windows are sieved, wide ranges counted
//! analytically. Progress counts units of work: the segments of the sieves (and, for π, runs of
//! its easy leaves).

mod method;
pub mod pi;
mod sieve;

pub use method::Method;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Ctl, Stopped};
use crate::job::{Limits, SpecError};

/// Largest `end` accepted: 10^18, as far as [`pi`] goes. Past [`sieve::MAX_END`] (10^16) even
/// a narrow window is counted analytically, at about the cost of [0, end): minutes near 10^18.
pub const MAX_END: u64 = pi::MAX_X;

/// Largest `end` that [`Method::Sieve`] accepts.
pub const SIEVE_MAX_END: u64 = sieve::MAX_END;

/// Parameters of `count_primes`: the half-open range `[start, end)`, like Python's `range`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CountPrimesParams, example = json!({"start": 0, "end": 1_000_000}))]
pub struct Params {
    /// First number of the range (0 ≤ start < end).
    pub start: u64,
    /// One past the last number of the range (end ≤ 10^18).
    pub end: u64,
}

/// Result of `count_primes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = CountPrimesResult)]
pub struct Output {
    /// Number of primes p with start ≤ p < end.
    pub count: u64,
}

impl Params {
    pub fn validate(&self, limits: &Limits) -> Result<(), SpecError> {
        if self.start >= self.end {
            return Err(SpecError::param(
                "end",
                format!(
                    "end ({}) must be greater than start ({})",
                    self.end, self.start
                ),
            ));
        }
        if self.end > limits.max_primes_end {
            return Err(SpecError::param(
                "end",
                format!(
                    "end must be at most {}, got {}",
                    limits.max_primes_end, self.end
                ),
            ));
        }
        Ok(())
    }
}

/// Counts the primes, the cheaper way; call it inside the CPU pool.
pub fn run(params: &Params, ctl: &Ctl) -> Result<Output, Stopped> {
    let (start, end) = (params.start, params.end);
    let count = Method::for_range(start, end).count(start, end, ctl)?;
    Ok(Output { count })
}
