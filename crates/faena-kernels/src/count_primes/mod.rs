//! Counting primes: how many primes lie in `[start, end)`, on the CPU pool, either by a segmented
//! sieve of the range ([`sieve`]) or as π(end − 1) − π(start − 1) ([`pi`], combinatorial), as
//! [`Method::for_range`] estimates cheaper: narrow windows are sieved, wide ranges counted
//! analytically. Progress counts units of work: the segments of the sieves (and, for π, runs of
//! its easy leaves).

mod method;
pub mod pi;
mod sieve;

pub use method::Method;

use crate::{Ctl, Stopped};

/// Largest `end` accepted: 10^18, as far as [`pi`] goes. Past [`sieve::MAX_END`] (10^16) even
/// a narrow window is counted analytically, at about the cost of [0, end): minutes near 10^18.
pub const MAX_END: u64 = pi::MAX_X;

/// Largest `end` that [`Method::Sieve`] accepts.
pub const SIEVE_MAX_END: u64 = sieve::MAX_END;

/// How many primes lie in `[start, end)` (`start < end <= MAX_END`), counted the cheaper way;
/// call it inside a rayon pool (it forks).
pub fn count(start: u64, end: u64, ctl: &Ctl) -> Result<u64, Stopped> {
    Method::for_range(start, end).count(start, end, ctl)
}
