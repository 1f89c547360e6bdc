//! `count_primes`: how many primes lie in `[start, end)`, on the CPU pool, counted by
//! [`faena_kernels::count_primes`] (a segmented sieve or π(x), whichever is cheaper for the
//! range). Progress counts units of work: the segments of the sieves and runs of π's easy
//! leaves.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::job::SpecError;
use crate::kind::{Ctl, JobClass, Kind, KindError, schema};

pub use faena_kernels::count_primes::MAX_END;

/// The kind, with the largest `end` it accepts.
#[derive(Debug, Clone)]
pub struct CountPrimes {
    pub max_end: u64,
}

impl Default for CountPrimes {
    fn default() -> Self {
        Self { max_end: MAX_END }
    }
}

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

impl Kind for CountPrimes {
    type Params = Params;
    type Output = Output;

    fn name(&self) -> &str {
        "count_primes"
    }

    fn class(&self) -> JobClass {
        JobClass::Cpu
    }

    fn summary(&self) -> &str {
        "Count the primes in [start, end) (CPU)."
    }

    fn validate(&self, p: &Params) -> Result<(), SpecError> {
        if p.start >= p.end {
            return Err(SpecError::param(
                "end",
                format!("end ({}) must be greater than start ({})", p.end, p.start),
            ));
        }
        if p.end > self.max_end {
            return Err(SpecError::param(
                "end",
                format!("end must be at most {}, got {}", self.max_end, p.end),
            ));
        }
        Ok(())
    }

    fn limits(&self) -> serde_json::Value {
        json!({ "max_end": self.max_end })
    }

    fn params_schema(&self) -> serde_json::Value {
        let mut s = schema::of::<Params>();
        schema::set(&mut s, "/properties/start/maximum", self.max_end - 1);
        schema::set(&mut s, "/properties/end/minimum", 1);
        schema::set(&mut s, "/properties/end/maximum", self.max_end);
        s
    }

    async fn run(&self, p: Params, ctl: Ctl) -> Result<Output, KindError> {
        let count = ctl
            .on_cpu(move |k| faena_kernels::count_primes::count(p.start, p.end, k))
            .await?;
        Ok(Output { count })
    }
}
