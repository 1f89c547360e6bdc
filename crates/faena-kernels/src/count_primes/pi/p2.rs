//! P2(x, y), the numbers up to `x` with exactly two prime factors, both above `y`:
//! P2 = Σ_{y < p <= sqrt(x)} (π(x / p) − π(p) + 1).
//!
//! The `x / p` lie in `[sqrt(x), x / y)`, so one segmented sieve of Eratosthenes over
//! `[1, x / (y + 1)]` (odd numbers only, one bit each) finds all the π(x / p): for a segment
//! `[lo, hi)`, the primes `p` with `x / p` inside it are those of `(x / hi, x / lo]`, a short
//! range sieved on the spot, and taken in decreasing order their `x / p` increase, so counting
//! the primes up to each is one forward pass with popcounts. The π(p) − 1 terms of the `N`
//! primes `p_{a+1}, …, p_{a+N}` add up to `N·a + N(N − 1)/2`. Cost `O((x / y)·log log x)`.
//!
//! **Parallelism.** As for the hard leaves: chunks of segments are sieved independently and
//! report their prime count, how many `p` they served and the sum of the local counts; the
//! combination adds, for each chunk, its `p` count times the primes below it.

use super::Lmo;
use super::segment::par_chunks;
use crate::{Ctl, Stopped};

const CHUNKS_PER_THREAD: u64 = 16;

/// How the sieve for P2 is cut.
#[derive(Debug, Clone, Copy)]
pub(super) struct P2Plan {
    /// The largest `x / p`: `⌊x / (y + 1)⌋`.
    top: u64,
    /// Odd numbers per segment, a multiple of 64.
    bits: u64,
    /// Segments covering the odd numbers up to `top`; 0 when no prime lies in `(y, sqrt(x)]`.
    pub segments: u64,
}

/// One chunk's share of Σ π(x / p).
#[derive(Default)]
struct ChunkSums {
    /// Primes in the chunk.
    primes: u64,
    /// Primes `p` whose `x / p` lies in the chunk.
    served: u64,
    /// Σ (primes in the chunk up to `x / p`) over those `p`.
    local: u128,
}

impl Lmo<'_> {
    /// The plan for P2.
    pub(super) fn p2_plan(&self) -> P2Plan {
        let top = self.x / (self.y + 1);
        let bits = top
            .isqrt()
            .next_power_of_two()
            .saturating_mul(2)
            .clamp(1 << 17, 1 << 21);
        let segments = if self.y < self.x.isqrt() {
            top.div_ceil(2).div_ceil(bits)
        } else {
            0
        };
        P2Plan {
            top,
            bits,
            segments,
        }
    }

    /// P2(x, y).
    pub(super) fn p2(&self, plan: &P2Plan, ctl: &Ctl) -> Result<u128, Stopped> {
        if plan.segments == 0 {
            return Ok(0);
        }
        let chunks = par_chunks(plan.segments, CHUNKS_PER_THREAD, |first, last| {
            self.p2_chunk(plan, first, last, ctl)
        })?;
        let (mut below, mut sum, mut served) = (0u64, 0u128, 0u128);
        for chunk in chunks {
            sum += chunk.local + u128::from(chunk.served) * u128::from(below);
            below += chunk.primes;
            served += u128::from(chunk.served);
        }
        let a = self.tables.a() as u128;
        Ok(sum - served * a - served * served.saturating_sub(1) / 2)
    }

    fn p2_chunk(
        &self,
        plan: &P2Plan,
        first: u64,
        last: u64,
        ctl: &Ctl,
    ) -> Result<ChunkSums, Stopped> {
        let odd = plan.top.div_ceil(2);
        let sqrt_x = self.x.isqrt();
        let (mut numbers, mut candidates) = (Vec::new(), Vec::new());
        let mut sums = ChunkSums::default();
        for s in first..last {
            ctl.check()?;
            let k0 = s * plan.bits;
            let (lo, hi) = (2 * k0 + 1, 2 * (k0 + (odd - k0).min(plan.bits)) + 1);
            sieve_odd(lo, hi, &self.tables.primes, &mut numbers);
            // 2 is the one even prime; it belongs to the segment starting at 1.
            let two = u64::from(lo == 1 && hi > 2);
            let p_lo = (self.x / hi + 1).max(self.y + 1) | 1;
            let p_hi = (self.x / lo).min(sqrt_x);
            let (mut local, mut served) = (0u128, 0u64);
            let mut cursor = (0usize, 0u64);
            if p_lo <= p_hi {
                sieve_odd(p_lo, p_hi + 1, &self.tables.primes, &mut candidates);
                for p in primes_desc(&candidates, p_lo) {
                    let n = self.x / p;
                    let end = ((n - 1) / 2 - k0) as usize + 1;
                    local += u128::from(count_below(&numbers, &mut cursor, end) + two);
                    served += 1;
                }
            }
            // The local counts start at the segment; the chunk's start is sums.primes further.
            sums.local += local + u128::from(served) * u128::from(sums.primes);
            sums.served += served;
            let in_segment: u64 = numbers.iter().map(|w| u64::from(w.count_ones())).sum();
            sums.primes += in_segment + two;
            ctl.advance(1);
        }
        Ok(sums)
    }
}

/// Sets `bits` to the primes among the odd numbers of `[lo, hi)` (`lo` odd): bit `i` stands for
/// `lo + 2i`. `primes` (1-based, `primes[1] = 2`) must reach `sqrt(hi − 1)`.
fn sieve_odd(lo: u64, hi: u64, primes: &[u32], bits: &mut Vec<u64>) {
    debug_assert!(lo % 2 == 1 && lo < hi);
    let len = (hi - lo).div_ceil(2) as usize;
    bits.clear();
    bits.resize(len.div_ceil(64), !0);
    if !len.is_multiple_of(64) {
        *bits.last_mut().expect("len > 0") = (1 << (len % 64)) - 1;
    }
    if lo == 1 {
        bits[0] &= !1;
    }
    for &p in primes.iter().skip(2) {
        let p = u64::from(p);
        if p * p >= hi {
            break;
        }
        // The first odd multiple of p that is >= max(p^2, lo).
        let start = (p * p).max(lo.div_ceil(p) * p);
        let start = if start % 2 == 0 { start + p } else { start };
        let mut i = ((start - lo) / 2) as usize;
        while i < len {
            bits[i / 64] &= !(1 << (i % 64));
            i += p as usize;
        }
    }
}

/// The numbers whose bits are set, `lo + 2i` for bit `i`, from the largest down.
fn primes_desc(bits: &[u64], lo: u64) -> impl Iterator<Item = u64> + '_ {
    bits.iter().enumerate().rev().flat_map(move |(w, &word)| {
        let mut word = word;
        std::iter::from_fn(move || {
            if word == 0 {
                return None;
            }
            let bit = 63 - word.leading_zeros() as usize;
            word &= !(1 << bit);
            Some(lo + 2 * (64 * w + bit) as u64)
        })
    })
}

/// The set bits of `bits` below bit `end`, moving `(word, count)` forward: `end` must not
/// decrease between calls with the same cursor.
fn count_below(bits: &[u64], cursor: &mut (usize, u64), end: usize) -> u64 {
    let target = end / 64;
    while cursor.0 < target {
        cursor.1 += u64::from(bits[cursor.0].count_ones());
        cursor.0 += 1;
    }
    let partial = match end % 64 {
        0 => 0,
        r => (bits[target] & ((1 << r) - 1)).count_ones(),
    };
    cursor.1 + u64::from(partial)
}
