//! The hard special leaves, by a segmented sieve of `[1, x / y]`.
//!
//! A special leaf of prime `p_b` (`c < b < π(y)`) is −μ(m)·φ(n, b − 1) with `n = ⌊x / (p_b·m)⌋`,
//! `m <= y < p_b·m` and lpf(m) > p_b; so `n < x / y`. The sieve walks `[1, x / y]` once, in
//! segments: in each one it removes `p_1, p_2, …` in turn, and right before removing `p_b` the
//! numbers left in the segment are those coprime to the first `b − 1` primes, so φ(n, b − 1) for
//! every leaf of `p_b` whose `n` lies in the segment is the count left below the segment plus the
//! count left in the segment up to `n`. Leaves of `p_b` come in increasing `n` as `m` decreases,
//! so that count is a cursor moving forward over per-block counters (`segment`).
//!
//! Only odd numbers are stored (`p_1 = 2` is always removed already, as `b > c >= 1`), and only
//! the primes with hard leaves are sieved: all `p_b <= sqrt(y)` and, above, those with leaves
//! `n >= min(p_b^2, y + 1)` (none once `p_b > x^(1/3)`; the others are `easy`). The cost is that
//! of sieving `[1, x / y]`, `O((x / y)·log log x)`, plus `O(1)` amortised per hard leaf.
//!
//! **Parallelism.** The segments are cut into chunks, each sieved on its own. A chunk cannot know
//! the counts below it, so it returns its leaves' partial sums, the sum of their weights −μ(m)
//! and the count left in the chunk before each `p_b`; the chunks' results are then combined in
//! order, each weight sum times the running count below.

use super::Lmo;
use super::segment::{Cursor, Segment, par_chunks};
use crate::{Ctl, Stopped};

/// Chunks aimed for per thread: leaves are denser at small `n`, so chunks are uneven and many.
const CHUNKS_PER_THREAD: u64 = 32;

/// Where the hard leaves are: the primes `p_b`, `c < b <= b_max`, sieved in segments of `bits`
/// odd numbers.
#[derive(Debug, Clone, Copy)]
pub(super) struct HardPlan {
    /// The last `b` with hard leaves (`<= c` when there are none).
    pub b_max: usize,
    /// Odd numbers per segment, a multiple of the block size of [`Segment`].
    pub bits: u64,
    /// The number of segments covering the odd numbers up to `z`; 0 when there are no hard
    /// leaves.
    pub segments: u64,
}

/// What a chunk of segments adds up, indexed by `b − c − 1`.
struct ChunkSums {
    /// Σ −μ(m)·(count left in the chunk up to `n`) over the chunk's leaves.
    local: i128,
    /// Σ −μ(m) over the chunk's leaves of each `p_b`.
    weights: Vec<i64>,
    /// The count left in the chunk right before `p_b` is removed.
    totals: Vec<u64>,
}

impl Lmo<'_> {
    /// The plan for the hard leaves.
    pub(super) fn hard_plan(&self) -> HardPlan {
        let primes = &self.tables.primes;
        let last = self.tables.a().saturating_sub(1);
        let mut b_max = self.c;
        while b_max < last {
            let b = b_max + 1;
            let p = u64::from(primes[b]);
            if p * p > self.y && self.last_hard_m(b) <= p {
                break;
            }
            b_max = b;
        }
        let odd = if b_max > self.c {
            self.z.div_ceil(2)
        } else {
            0
        };
        let bits = self
            .z
            .isqrt()
            .next_power_of_two()
            .clamp(Segment::MIN_BITS, 1 << 20);
        HardPlan {
            b_max,
            bits,
            segments: odd.div_ceil(bits),
        }
    }

    /// The sum of −μ(m)·φ(n, b − 1) over the hard leaves.
    pub(super) fn hard_leaves(&self, plan: &HardPlan, ctl: &Ctl) -> Result<i128, Stopped> {
        if plan.b_max <= self.c || plan.segments == 0 {
            return Ok(0);
        }
        let chunks = par_chunks(plan.segments, CHUNKS_PER_THREAD, |first, last| {
            self.hard_chunk(plan, first, last, ctl)
        })?;
        let mut below = vec![0u64; plan.b_max - self.c];
        let mut sum = 0i128;
        for chunk in chunks {
            sum += chunk.local;
            for ((count, weight), total) in below.iter_mut().zip(chunk.weights).zip(chunk.totals) {
                sum += i128::from(weight) * i128::from(*count);
                *count += total;
            }
        }
        Ok(sum)
    }

    /// Sieves the segments `first..last` and sums their leaves.
    fn hard_chunk(
        &self,
        plan: &HardPlan,
        first: u64,
        last: u64,
        ctl: &Ctl,
    ) -> Result<ChunkSums, Stopped> {
        let primes = &self.tables.primes;
        let levels = plan.b_max - self.c;
        let mut sums = ChunkSums {
            local: 0,
            weights: vec![0; levels],
            totals: vec![0; levels],
        };
        let odd = self.z.div_ceil(2);
        let mut seg = Segment::default();
        for s in first..last {
            ctl.check()?;
            let k0 = s * plan.bits;
            seg.reset(k0, (odd - k0).min(plan.bits) as usize, &primes[2..=self.c]);
            for (i, &p) in primes[self.c + 1..=plan.b_max].iter().enumerate() {
                let b = self.c + 1 + i;
                if b.is_multiple_of(256) {
                    ctl.check()?;
                }
                // What is left of the chunk below this segment, for the counts up to n.
                let below = sums.totals[i];
                sums.totals[i] += seg.remaining();
                let (weight, local) = self.leaves_in(b, &seg);
                sums.weights[i] += weight;
                sums.local += local + i128::from(weight) * i128::from(below);
                if b < plan.b_max {
                    seg.cross_off(u64::from(p));
                }
            }
            ctl.advance(1);
        }
        Ok(sums)
    }

    /// The leaves of `p_b` whose `n` lies in `seg`: (Σ −μ(m), Σ −μ(m)·count in `seg` up to `n`).
    fn leaves_in(&self, b: usize, seg: &Segment) -> (i64, i128) {
        let t = self.tables;
        let p = u64::from(t.primes[b]);
        let (lo, hi) = seg.number_range();
        // n in [lo, hi)  <=>  ⌊⌊x / hi⌋ / p⌋ < m <= ⌊⌊x / lo⌋ / p⌋.
        let m_above = self.x / hi / p;
        let m_upto = self.x / lo / p;
        let xp = self.x / p;
        let mut cursor = Cursor::default();
        let (mut weight, mut local) = (0i64, 0i128);
        let mut leaf = |m: u64, w: i64| {
            let n = xp / m;
            let count = seg.count_upto(&mut cursor, n);
            weight += w;
            local += i128::from(w) * i128::from(count);
        };
        if p * p <= self.y {
            // Any squarefree m with lpf(m) > p; m decreasing so that n increases.
            let lo_m = m_above.max(self.y / p);
            for m in (lo_m + 1..=m_upto.min(self.y)).rev() {
                let ml = t.mu_lpf[m as usize];
                if ml.unsigned_abs() > p as u32 {
                    leaf(m, if ml > 0 { -1 } else { 1 });
                }
            }
        } else {
            // Only primes m > p, and only up to the last hard one.
            let lo_m = m_above.max(p);
            let hi_m = m_upto.min(self.last_hard_m(b));
            if hi_m > lo_m {
                let (first, last) = (t.pi(lo_m) as usize + 1, t.pi(hi_m) as usize);
                for &m in t.primes[first..=last].iter().rev() {
                    leaf(u64::from(m), 1);
                }
            }
        }
        (weight, local)
    }
}
