//! `count_primes`: how many primes lie in `[start, end)`, on the CPU pool, counted by
//! [`faena_kernels::count_primes`] (a segmented sieve or π(x), whichever is cheaper for the
//! range). Progress counts units of work: the segments of the sieves and runs of π's easy
//! leaves.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Ctl, Stopped};
use crate::job::{Limits, SpecError};

pub use faena_kernels::count_primes::MAX_END;

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
    let count = faena_kernels::count_primes::count(params.start, params.end, ctl.kernel())?;
    Ok(Output { count })
}
