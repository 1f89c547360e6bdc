//! Factorials: for each n of a list, the exact number of decimal digits of n!, its trailing
//! zeros and its leading digits. The numbers run in parallel on the CPU pool; progress counts
//! numbers done.
//!
//! Trailing zeros come from Legendre's formula: `n!` holds `Σ ⌊n / 5^k⌋` factors of 5 and more
//! factors of 2 than that, so that sum is the exponent of 10. The digits come by one of two
//! routes, both exact: small `n!` are printed in full ([`exact`]); for larger `n`, rigorous
//! bounds of a few hundred bits on `n!` and `10^m` ([`bounds`]) settle `⌊n! / 10^m⌋`'s length and
//! leading digits, and only if they ever do not is that quotient computed exactly ([`exact`]).

mod bounds;
mod exact;
#[cfg(test)]
mod tests;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Ctl, Stopped};

/// Facts about n! that a job reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct FactorialFacts {
    /// The argument of the factorial.
    pub n: u64,
    /// Number of decimal digits of `n!` (`0! = 1` has 1 digit).
    pub digits: u64,
    /// Number of trailing decimal zeros of `n!`.
    pub trailing_zeros: u64,
    /// The first `min(20, digits)` decimal digits of `n!`.
    pub leading_digits: String,
}

/// How many leading digits are reported.
const LEADING: u64 = 20;
/// Up to this `n`, printing `n!` in full is cheaper than the other routes (≤ 16 326 digits).
const DIRECT_MAX_N: u64 = 5_000;

/// The facts of every n of `numbers`, in order, computed in parallel; call it inside a rayon
/// pool. Progress counts numbers done.
pub fn facts_of_all(numbers: &[u64], ctl: &Ctl) -> Result<Vec<FactorialFacts>, Stopped> {
    ctl.set_total(numbers.len() as u64);
    numbers
        .par_iter()
        .map(|&n| {
            let facts = factorial_facts(n, ctl)?;
            ctl.advance(1);
            Ok(facts)
        })
        .collect()
}

/// Exact facts of n!: number of decimal digits (0! = 1 has 1 digit), number of trailing zeros,
/// and its first min(20, digits) decimal digits as a string.
///
/// Runs on the current rayon pool (it forks with `rayon::join`) and returns `Err(Stopped)` soon
/// after `ctl` is cancelled.
pub fn factorial_facts(n: u64, ctl: &Ctl) -> Result<FactorialFacts, Stopped> {
    ctl.check()?;
    if n <= DIRECT_MAX_N {
        return exact::direct(n, ctl);
    }
    match bounds::facts_from_bounds(n, ctl)? {
        Some(facts) => Ok(facts),
        // The bounds did not settle its digits (never seen): computed exactly.
        None => exact::by_division(n, ctl),
    }
}

/// Builds the facts from the digit count and a decimal string that starts like `n!`.
fn facts(n: u64, digits: u64, prefix: &str) -> FactorialFacts {
    let k = prefix.len().min(LEADING as usize);
    FactorialFacts {
        n,
        digits,
        trailing_zeros: trailing_zeros(n),
        leading_digits: prefix[..k].to_owned(),
    }
}

/// Legendre's formula for the exponent of 5 in `n!`, which is the exponent of 10.
fn trailing_zeros(n: u64) -> u64 {
    let mut zeros = 0;
    let mut q = n;
    while q >= 5 {
        q /= 5;
        zeros += q;
    }
    zeros
}

/// Stirling's series for `log10(n!)`; only a guess, accurate to far better than one digit.
fn log10_factorial(n: u64) -> f64 {
    if n < 2 {
        return 0.0;
    }
    let x = n as f64;
    let ln = x * x.ln() - x + 0.5 * (std::f64::consts::TAU * x).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x * x * x);
    ln / std::f64::consts::LN_10
}

/// Length of an ASCII string as u64.
fn len(s: &str) -> u64 {
    s.len() as u64
}
