//! The ordinary leaves of the LMO computation and the tiny φ they need.
//!
//! φ(v, b) counts the numbers in `[1, v]` divisible by none of the first `b` primes. For
//! `b <= MAX_C` it is periodic modulo the primorial `P_b = p_1 ⋯ p_b` (at most 30030):
//! φ(v, b) = ⌊v / P_b⌋·φ(P_b) + φ(v mod P_b, b), so one table per `b` answers in `O(1)`.
//!
//! The ordinary leaves are the terms μ(n)·φ(x / n, c) for the squarefree `n <= y` whose least
//! prime factor is above `p_c`: `O(y)` table look-ups.

use std::sync::LazyLock;

use super::tables::Tables;
use crate::{Ctl, Stopped};

/// The largest `c` with a φ table: P_6 = 30030.
pub(super) const MAX_C: usize = 6;

const SMALL_PRIMES: [u64; MAX_C] = [2, 3, 5, 7, 11, 13];

/// φ(·, b) for `b <= MAX_C`, by periodicity modulo the primorial.
pub(super) struct PhiTiny {
    /// The primorial `P_b`.
    period: u64,
    /// φ(P_b, b) = Euler's totient of `P_b`.
    per_period: u64,
    /// `counts[r]` = φ(r, b) for `r < P_b`.
    counts: Vec<u16>,
}

/// The tables for `b = 0..=MAX_C`, built once (about 65 KB).
static TABLES: LazyLock<Vec<PhiTiny>> = LazyLock::new(|| (0..=MAX_C).map(PhiTiny::build).collect());

impl PhiTiny {
    /// The table for `b` (`b <= MAX_C`).
    pub fn get(b: usize) -> &'static Self {
        &TABLES[b]
    }

    fn build(b: usize) -> Self {
        let primes = &SMALL_PRIMES[..b];
        let period: u64 = primes.iter().product();
        let mut counts = Vec::with_capacity(period as usize);
        let mut count = 0u16;
        for r in 0..period {
            // counts[r] covers [1, r]; r itself joins once it is coprime to the primorial.
            if r > 0 && primes.iter().all(|&p| !r.is_multiple_of(p)) {
                count += 1;
            }
            counts.push(count);
        }
        let last_is_coprime = u64::from(period == 1);
        Self {
            period,
            per_period: u64::from(count) + last_is_coprime,
            counts,
        }
    }

    /// φ(v, b).
    #[inline]
    pub fn phi(&self, v: u64) -> u64 {
        (v / self.period) * self.per_period + u64::from(self.counts[(v % self.period) as usize])
    }
}

/// The sum over the ordinary leaves: Σ μ(n)·φ(x / n, c) over `n <= y` with μ(n) ≠ 0 and
/// lpf(n) > p_c (`n = 1` included).
pub(super) fn ordinary_leaves(
    x: u64,
    y: u64,
    c: usize,
    tables: &Tables,
    ctl: &Ctl,
) -> Result<i128, Stopped> {
    let tiny = PhiTiny::get(c);
    let p_c = tables.primes[c];
    let mut sum = 0i128;
    for n in 1..=y {
        if n % (1 << 16) == 0 {
            ctl.check()?;
        }
        let ml = tables.mu_lpf[n as usize];
        if ml.unsigned_abs() > p_c {
            let phi = i128::from(tiny.phi(x / n));
            sum += if ml > 0 { phi } else { -phi };
        }
    }
    Ok(sum)
}
