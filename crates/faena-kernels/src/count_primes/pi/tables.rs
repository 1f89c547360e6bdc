//! The tables of the numbers up to `y` that every part of the LMO computation reads: the primes,
//! π(v), and the Möbius function together with the least prime factor.
//!
//! One linear sieve (each composite is reached once, from its least prime factor) fills them in
//! `O(y)` time; they take about 9 bytes per number up to `y`.

use crate::{Ctl, Stopped};

/// The primes up to `y`, π(v) for `v <= y`, and μ(m) with lpf(m) for `m <= y`.
pub(super) struct Tables {
    /// `primes[b]` is the `b`-th prime `p_b` (1-based); `primes[0]` is 0 and never read as a prime.
    pub primes: Vec<u32>,
    /// `pi[v]` = π(v) for `v <= y`.
    pub pi: Vec<u32>,
    /// `mu_lpf[m]` = μ(m)·lpf(m) for `m <= y`, 0 where μ(m) = 0; for `m = 1` it is `i32::MAX`
    /// (μ(1) = 1 and lpf(1) counts as larger than every prime).
    pub mu_lpf: Vec<i32>,
}

impl Tables {
    /// The tables up to `y` (`2 <= y < 2^31`); `Err(Stopped)` if `ctl` is cancelled meanwhile.
    pub fn new(y: u64, ctl: &Ctl) -> Result<Self, Stopped> {
        debug_assert!((2..i32::MAX as u64).contains(&y), "y = {y}");
        let n = y as usize;
        let mut lpf = vec![0u32; n + 1];
        let mut mu_lpf = vec![0i32; n + 1];
        let mut primes = vec![0u32];
        mu_lpf[1] = i32::MAX;
        for i in 2..=n {
            // Some 10^5 numbers per ms: tens of ms in all near x = 10^16.
            if i % (1 << 16) == 0 {
                ctl.check()?;
            }
            if lpf[i] == 0 {
                lpf[i] = i as u32;
                mu_lpf[i] = -(i as i32);
                primes.push(i as u32);
            }
            let (li, mi) = (lpf[i], mu_lpf[i].signum());
            for &p in &primes[1..] {
                let ip = i * p as usize;
                if p > li || ip > n {
                    break;
                }
                lpf[ip] = p;
                // p = lpf(i) means p^2 divides i * p; otherwise one more distinct prime flips μ.
                mu_lpf[ip] = if p == li { 0 } else { -mi * p as i32 };
            }
        }
        let mut pi = vec![0u32; n + 1];
        let mut count = 0;
        for (v, slot) in pi.iter_mut().enumerate() {
            if v >= 2 && lpf[v] == v as u32 {
                count += 1;
            }
            *slot = count;
        }
        Ok(Self { primes, pi, mu_lpf })
    }

    /// π(y), the number of primes in the table.
    pub fn a(&self) -> usize {
        self.primes.len() - 1
    }

    /// π(v) for `v <= y`.
    #[inline]
    pub fn pi(&self, v: u64) -> u64 {
        u64::from(self.pi[v as usize])
    }
}
