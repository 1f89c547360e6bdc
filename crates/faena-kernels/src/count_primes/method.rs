//! How `count_primes` counts a range: by sieving it, at a cost that grows with its width, or
//! analytically as π(end − 1) − π(start − 1), at a cost that grows with `end^(2/3)` whatever the
//! width; whichever is estimated cheaper.
//!
//! **Cost model**, in ns on 2 threads (measured with `examples/primes.rs` on a 2-core machine
//! that two other builds were loading, sieve and π alternately; only the ratios matter):
//!
//! - sieve: per number, [`SIEVE_NS`] plus [`SIEVE_NS_PER_ROOT`]` · sqrt(end)` (more and larger
//!   sieving primes, whose bucket traffic and scattered writes miss the caches: 0.35 ns near
//!   10^10, 0.38 near 10^12, 1.3 near 10^15, 3.35 near 10^16; refitted to the 10^12 and 10^15
//!   windows when the bucket sieve came in, 2.6 times faster at 10^15), plus
//!   [`SETUP_NS_PER_ROOT`]` · sqrt(end)` once (the sieving primes and their positions);
//! - π(x): [`PI_NS`]` · x^(2/3)` (1.9 ns at 10^11, 1.6 at 10^13, 1.55 at 10^14), plus
//!   [`PI_SETUP_NS`]; below 2^20 π is a sieve itself.
//!
//! So a window high up (start near end) is counted analytically once its width passes about
//! `10 · end^(2/3)` up to 10^12 (`2 · PI_NS / SIEVE_NS`), `2.6 · end^(2/3)` near 10^15; a range from
//! 0 at half that. So [0, 10^10) and 10^9 numbers from 10^9 are counted analytically (in ms,
//! against 3.5 s and 0.35 s of sieving), 10^9 numbers from 10^12 too, narrowly (0.34 s against
//! 0.38 s), but 10^8 numbers from 10^12 and 10^9 from 10^15 are sieved (1.3 s against 34 s). Past [`sieve::MAX_END`] every range is
//! counted analytically, however narrow: that costs about as much as [0, end) twice, which is
//! what `Limits::max_primes_end` bounds (minutes near 10^18).

use super::{pi, sieve};
use crate::{Ctl, Stopped};

/// The sieve's time per number, in ns, near the bottom.
const SIEVE_NS: f64 = 0.35;

/// What each unit of `sqrt(end)` adds to the sieve's time per number, in ns.
const SIEVE_NS_PER_ROOT: f64 = 0.3e-7;

/// The sieve's one-off time per unit of `sqrt(end)`, in ns.
const SETUP_NS_PER_ROOT: f64 = 2.0;

/// π(x) takes about `PI_NS · x^(2/3)` ns, from 10^11 to 10^15.
const PI_NS: f64 = 1.7;

/// π(x)'s one-off time (the tables, the threads), in ns.
const PI_SETUP_NS: f64 = 100_000.0;

/// The way a range is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A segmented sieve of `[start, end)` ([`sieve`]).
    Sieve,
    /// π(end − 1) − π(start − 1), both by LMO ([`pi`]), side by side on the pool.
    Analytic,
}

impl Method {
    /// The cheaper way to count `[start, end)` (`start < end <= super::MAX_END`).
    pub fn for_range(start: u64, end: u64) -> Self {
        if end > sieve::MAX_END {
            return Self::Analytic;
        }
        let sieve = sieve_cost(start, end);
        let analytic = pi_cost(end) + pi_cost(start);
        if analytic < sieve {
            Self::Analytic
        } else {
            Self::Sieve
        }
    }

    /// Counts the primes `p` with `start <= p < end` this way, on the current rayon pool
    /// (`start < end <= super::MAX_END`, and `end <= super::SIEVE_MAX_END` to sieve). Progress
    /// adds up the units of every part; `Err(Stopped)` soon after `ctl` is cancelled.
    pub fn count(self, start: u64, end: u64, ctl: &Ctl) -> Result<u64, Stopped> {
        match self {
            Self::Sieve => sieve::count_primes(start, end, ctl),
            Self::Analytic => {
                let (below_end, below_start) =
                    rayon::join(|| primes_below(end, ctl), || primes_below(start, ctl));
                Ok(below_end? - below_start?)
            }
        }
    }
}

/// The estimated ns of sieving `[start, end)`.
fn sieve_cost(start: u64, end: u64) -> f64 {
    let root = (end as f64).sqrt();
    (end - start) as f64 * (SIEVE_NS + SIEVE_NS_PER_ROOT * root) + SETUP_NS_PER_ROOT * root
}

/// The estimated ns of π(n − 1).
fn pi_cost(n: u64) -> f64 {
    match n {
        0..=2 => 0.0,
        _ if n <= 1 << 20 => sieve_cost(0, n),
        _ => PI_SETUP_NS + PI_NS * (n as f64).powf(2.0 / 3.0),
    }
}

/// π(n − 1): the primes below `n`.
fn primes_below(n: u64, ctl: &Ctl) -> Result<u64, Stopped> {
    match n {
        0..=2 => Ok(0),
        _ => pi::pi(n - 1, ctl),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::control::midway::cancel;

    fn count(method: Method, start: u64, end: u64) -> u64 {
        let ctl = Ctl::default();
        let count = method.count(start, end, &ctl).expect("not cancelled");
        let (done, total) = ctl.progress().get();
        assert_eq!(
            done, total,
            "[{start}, {end}) by {method:?}: progress ends complete"
        );
        count
    }

    #[test]
    fn narrow_windows_are_sieved_and_wide_ranges_counted_analytically() {
        use Method::{Analytic, Sieve};
        let e = |k: u32| 10u64.pow(k);
        for (start, end, way) in [
            (0, 10, Sieve),
            (0, e(6), Sieve),
            (0, e(10), Analytic),
            (e(9), 2 * e(9), Analytic),
            (e(12), e(12) + e(9), Analytic),
            (e(12), e(12) + e(8), Sieve),
            (e(15), e(15) + e(9), Sieve),
            (e(15), 2 * e(15), Analytic),
            (0, e(13), Analytic),
            (sieve::MAX_END - 1000, sieve::MAX_END, Sieve),
            (sieve::MAX_END, sieve::MAX_END + 1, Analytic),
            (super::super::MAX_END - 1, super::super::MAX_END, Analytic),
        ] {
            assert_eq!(Method::for_range(start, end), way, "[{start}, {end})");
        }
    }

    #[test]
    fn both_ways_agree() {
        // π(10^k) differences, and windows whose ends are primes or squares of primes.
        for (start, end) in [
            (0, 2),
            (2, 3),
            (0, 10_000_000_000),
            (1_000_000_000, 10_000_000_000),
            (1_000_003 * 1_000_003, 1_000_003 * 1_000_003 + 1),
            (999_999_000, 1_000_000_007),
            (999_999_000, 1_000_000_008),
        ] {
            assert_eq!(
                count(Method::Sieve, start, end),
                count(Method::Analytic, start, end),
                "[{start}, {end})"
            );
        }
        assert_eq!(count(Method::Analytic, 0, 10_000_000_000), 455_052_511);
        assert_eq!(
            count(Method::Analytic, 1_000_000_000, 10_000_000_000),
            455_052_511 - 50_847_534
        );
    }

    #[test]
    fn an_analytic_count_reports_progress_early_and_stops_soon_after_a_cancel() {
        // Cancels once some progress shows: the API's cancel tests wait for that too.
        let (start, end) = (10u64.pow(17), 10u64.pow(18));
        let run = cancel(
            |_, progress| progress.get().0 > 0,
            |ctl| Method::Analytic.count(start, end, ctl),
        );
        assert_eq!(run.result, Err(Stopped));
        assert!(
            run.waited < Duration::from_secs(10),
            "no progress in {:?}",
            run.waited
        );
        // Minutes of work: returning within 2 s of the cancel shows it stopped, with room
        // for a loaded CI machine.
        assert!(
            run.latency < Duration::from_secs(2),
            "{:?} after the cancel",
            run.latency
        );
        let (done, total) = run.progress;
        assert!(0 < done && done < total, "{done} of {total}");
    }
}
