//! The easy special leaves: those whose φ reads straight off the π table.
//!
//! A special leaf of prime `p_b` with `p_b^2 > y` is φ(n, b − 1) with `n = ⌊x / (p_b·m)⌋` for
//! a prime `m`, `p_b < m <= y`. When `n < p_b^2` the numbers in `[1, n]` coprime to the first
//! `b − 1` primes are 1 and the primes in `[p_b, n]`, so φ(n, b − 1) = max(1, π(n) − b + 2).
//! So whenever `n <= y` (< p_b^2) the leaf is a look-up in the π table: the observation of
//! Deléglise and Rivat. It covers all but a few of the ~π(y)²/2 leaves of the large primes
//! (every one once `p_b > x^(1/3)`), at `O(1)` each; where many consecutive `m` share π(n)
//! (large `p_b`), a whole run of them costs two divisions. The rest, the hard leaves, go to the
//! sieve (`special`).

use rayon::prelude::*;

use super::Lmo;
use crate::{Ctl, Stopped};

impl Lmo<'_> {
    /// The largest `m` whose leaf with `p_b` (`p_b^2 > y`) is hard, i.e. has
    /// `⌊x / (p_b·m)⌋ > y`; at most `y`, and `<= p_b` when there is none.
    pub(super) fn last_hard_m(&self, b: usize) -> u64 {
        let p = u64::from(self.tables.primes[b]);
        (self.x / (p * (self.y + 1))).min(self.y)
    }

    /// The sum of φ over the easy leaves of every `b` in `first..=last` (all with `p_b^2 > y`),
    /// in parallel over `units` runs of consecutive `b` (`1 <= units <= last + 1 - first`), each
    /// one unit of progress.
    pub(super) fn easy_leaves(
        &self,
        first: usize,
        last: usize,
        units: u64,
        ctl: &Ctl,
    ) -> Result<i128, Stopped> {
        let (count, units) = (last + 1 - first, units.max(1) as usize);
        // Run r covers the b from first + ⌊r·count / units⌋ on: none empty while units <= count.
        let start = |run: usize| first + run * count / units;
        (0..units)
            .into_par_iter()
            .map(|run| {
                let mut sum = 0;
                for b in start(run)..start(run + 1) {
                    ctl.check()?;
                    sum += self.easy_leaves_of(b);
                }
                ctl.advance(1);
                Ok(sum)
            })
            .try_reduce(|| 0, |s, t| Ok(s + t))
    }

    /// The sum of φ(x / (p_b·m), b − 1) over the primes `m`, `max(p_b, last_hard_m) < m <= y`
    /// (and `m <= x / p_b`, so that `n >= 1`).
    fn easy_leaves_of(&self, b: usize) -> i128 {
        let t = self.tables;
        let p = u64::from(t.primes[b]);
        let xp = self.x / p;
        let lo = self.last_hard_m(b).max(p);
        let hi = xp.min(self.y);
        if hi <= lo {
            return 0;
        }
        let (first, last) = (t.pi(lo) as usize + 1, t.pi(hi) as usize);
        if first > last {
            return 0;
        }
        // Runs of consecutive m share π(n) when there are far fewer distinct n than m.
        let distinct = t.pi(xp / u64::from(t.primes[first])) - t.pi(xp / u64::from(t.primes[last]));
        if 2 * distinct < (last - first) as u64 {
            self.easy_runs(b, xp, first, last)
        } else {
            self.easy_one_by_one(b, xp, &t.primes[first..=last])
        }
    }

    /// Σ max(1, π(⌊xp / m⌋) − b + 2) over the primes `m` given, one leaf at a time.
    fn easy_one_by_one(&self, b: usize, xp: u64, ms: &[u32]) -> i128 {
        let pi = &self.tables.pi;
        let offset = b as i64 - 2;
        let phi = |n: u64| (i64::from(pi[n as usize]) - offset).max(1);
        // ⌊⌊x / p⌋ / m⌋ = ⌊x / (p·m)⌋; a 32-bit division is several times faster when it fits.
        let sum: i64 = if let Ok(xp) = u32::try_from(xp) {
            ms.iter().map(|&m| phi(u64::from(xp / m))).sum()
        } else {
            ms.iter().map(|&m| phi(xp / u64::from(m))).sum()
        };
        i128::from(sum)
    }

    /// The same sum over `m = p_first, …, p_last`, a run of equal π(n) at a time: from `m`, every
    /// prime `m' <= xp / p_l` (`l = π(xp / m)`) has π(xp / m') = `l` too.
    fn easy_runs(&self, b: usize, xp: u64, first: usize, last: usize) -> i128 {
        let t = self.tables;
        let mut sum = 0i128;
        let mut j = first;
        while j <= last {
            let l = t.pi(xp / u64::from(t.primes[j]));
            let phi = (l as i64 - b as i64 + 2).max(1);
            // l >= 1 as n >= 2 here... unless n < 2: then every later m has n < 2 as well.
            let end = if l == 0 {
                last
            } else {
                (t.pi((xp / u64::from(t.primes[l as usize])).min(self.y)) as usize).min(last)
            };
            sum += i128::from(phi) * (end + 1 - j) as i128;
            j = end + 1;
        }
        sum
    }
}
