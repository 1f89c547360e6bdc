//! π(x), the number of primes `<= x`, by the combinatorial method of Lagarias, Miller and
//! Odlyzko (1985), with the easy-leaf shortcut of Deléglise and Rivat (1996); for wide ranges,
//! where sieving every number would take too long (π(10^13) in well under a second).
//!
//! With `y >= x^(1/3)` and `a = π(y)`, every number in `[2, x]` with no prime factor `<= y` is a
//! prime or a product of two primes above `y`, so
//!
//! π(x) = φ(x, a) + a − 1 − P2(x, y),
//!
//! where φ(x, a) counts the numbers in `[1, x]` divisible by none of `p_1, …, p_a` and P2 counts
//! those products (`p2`). Expanding φ(x, a) by φ(v, b) = φ(v, b − 1) − φ(v / p_b, b − 1) until
//! either the divisor `n` passes `y` or `b` reaches a small `c` gives
//!
//! φ(x, a) = Σ_{n <= y, lpf(n) > p_c} μ(n)·φ(x / n, c)
//!         − Σ_{c < b < a} Σ_{m <= y < p_b·m, lpf(m) > p_b} μ(m)·φ(x / (p_b·m), b − 1):
//!
//! the ordinary leaves, a table look-up each (`phi`), and the special leaves, whose arguments
//! are all below `x / y`: the easy ones read off the π table (`easy`), the hard ones come from
//! one segmented sieve of `[1, x / y]` with counters (`special`, `segment`).
//!
//! **Complexity.** With `y = α·x^(1/3)`: `O(x^(2/3) / α · log log x)` time for the two sieves of
//! `[1, x / y]` plus `O(π(y)^2)` easy leaves (`α` balances them), and `O(y + sqrt(x / y))`
//! memory, about 12 bytes per number up to `y` at the peak (y ≈ 2.4 million, ~30 MB, at
//! x = 10^16; y ≈ 13 million, ~160 MB, at 10^18). All
//! arithmetic is exact for every `x <= MAX_X`: products of two numbers `<= y` fit `u64`, sums
//! of leaves are kept in 128 bits.
//!
//! **Control.** Progress counts the segments of both sieves and runs of the easy leaves;
//! cancellation is checked before every segment (a few ms of work at most) and between the easy
//! leaves of consecutive primes.

mod easy;
mod p2;
mod phi;
mod segment;
mod special;
mod tables;

#[cfg(test)]
mod tests;

use super::sieve;
use crate::{Ctl, Stopped};
use tables::Tables;

/// The largest `x` accepted by [`pi`]: 10^18. Nothing overflows below it, but the time grows
/// like `x^(2/3)` (see the module doc); values are checked against known ones up to 10^14.
pub const MAX_X: u64 = 1_000_000_000_000_000_000;

/// Below this, a plain sieve is faster than setting up the tables.
const SIEVE_BELOW: u64 = 1 << 20;

/// π(x): the number of primes `p <= x`.
///
/// Precondition: `x <= MAX_X` (the caller validates). Runs on the current rayon pool: call it
/// inside `pool.install`. Adds its units of work to the progress total of `ctl` and reports
/// them done (so two calls on one `ctl` add up), and returns `Err(Stopped)` soon after `ctl`
/// is cancelled.
pub fn pi(x: u64, ctl: &Ctl) -> Result<u64, Stopped> {
    debug_assert!(x <= MAX_X, "x = {x}");
    ctl.check()?;
    match x {
        0 | 1 => Ok(0),
        _ if x < SIEVE_BELOW => sieve::count_primes(0, x + 1, ctl),
        _ => lmo(x, choose_y(x), ctl),
    }
}

/// The `y` of the method: `α·x^(1/3)`, with α growing slowly with `x`, and at least
/// `⌊x^(1/3)⌋ + 1` so that `y^3 > x` (no number `<= x` has three prime factors above `y`, and the
/// primes up to `y` are enough to sieve up to `x / y < y^2`).
fn choose_y(x: u64) -> u64 {
    let cbrt = icbrt(x);
    let alpha = alpha(x);
    ((cbrt as f64 * alpha) as u64).max(cbrt + 1)
}

/// The balance between the sieves (`x / y`) and the easy leaves (`π(y)^2`). Measured on 2 cores,
/// α = 8 is best or within 5% of it from 10^12 to 10^14 (α = 4 costs 20–45% more, α = 32
/// 50–60% more); this grows it by 1 per digit of `x`.
fn alpha(x: u64) -> f64 {
    let digits = (x as f64).log10();
    (digits - 5.0).clamp(1.0, 20.0)
}

/// ⌊x^(1/3)⌋.
fn icbrt(x: u64) -> u64 {
    let cube = |r: u64| u128::from(r).pow(3);
    let mut r = (x as f64).cbrt() as u64;
    while cube(r) > u128::from(x) {
        r -= 1;
    }
    while cube(r + 1) <= u128::from(x) {
        r += 1;
    }
    r
}

/// One computation of π(x) with a given `y`: what every part reads.
struct Lmo<'a> {
    x: u64,
    y: u64,
    /// ⌊x / y⌋: every special leaf's argument is `<= z`.
    z: u64,
    /// Leaves stop at φ(·, c), read off a table (`c = min(a, phi::MAX_C)`).
    c: usize,
    tables: &'a Tables,
}

/// π(x) by LMO with this `y` (`x >= 2`, `x^(1/3) < y < 2^31`).
fn lmo(x: u64, y: u64, ctl: &Ctl) -> Result<u64, Stopped> {
    let tables = Tables::new(y, ctl)?;
    let a = tables.a();
    let lmo = Lmo {
        x,
        y,
        z: x / y,
        c: a.min(phi::MAX_C),
        tables: &tables,
    };
    let (hard_plan, p2_plan) = (lmo.hard_plan(), lmo.p2_plan());
    let segments = hard_plan.segments + p2_plan.segments;
    // The primes above sqrt(y) have only prime m, and most of their leaves are easy.
    let first_easy = (lmo.c + 1).max(tables.pi(y.isqrt()) as usize + 1);
    let easy_primes = a.saturating_sub(first_easy) as u64;
    // The easy leaves come before the sieves and take a good part of the time: they count as
    // half as many units of progress as the segments, one per run of consecutive primes.
    let easy_units = (segments / 2).clamp(1, easy_primes.max(1));
    ctl.add_total(segments + easy_units);

    let ordinary = phi::ordinary_leaves(x, y, lmo.c, &tables, ctl)?;
    let easy = if easy_primes > 0 {
        lmo.easy_leaves(first_easy, a - 1, easy_units, ctl)?
    } else {
        ctl.advance(easy_units);
        0
    };
    let hard = lmo.hard_leaves(&hard_plan, ctl)?;
    let p2 = lmo.p2(&p2_plan, ctl)?;
    let pi = ordinary + easy + hard + a as i128 - 1 - p2 as i128;
    Ok(u64::try_from(pi).expect("π(x) is between 0 and x"))
}
