//! When a retry runs: exponential back-off with jitter.
//!
//! After attempt `n` failed with a retryable error, the job waits `d/2 + uniform(0, d/2)` with
//! `d = min(base · 2^(n-1), max)` ("equal jitter"): waits grow quickly, never exceed `max`,
//! and retries of jobs that failed together (a database or network hiccup) spread out instead
//! of coming back at once. The store's writer computes it ([`Backoff::wait`]) from the attempt
//! it read under the row lock, once for both databases.

use std::time::Duration;

/// The back-off of retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after a first attempt (before jitter).
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}

/// Attempts past this one wait `max` (2^30 · base is past any useful `max`).
pub const MAX_SHIFT: u32 = 30;

impl Backoff {
    /// `d` for attempt `attempt` (1-based), in ms.
    pub fn ceiling_ms(&self, attempt: u32) -> u64 {
        let base = self.base.as_millis().min(u128::from(u32::MAX)) as u64;
        let max = self.max.as_millis().min(u128::from(u32::MAX)) as u64;
        (base << attempt.saturating_sub(1).min(MAX_SHIFT)).min(max)
    }

    /// The range the wait after attempt `attempt` falls in, in ms: `[d/2, d/2 + d/2]`.
    pub fn range_ms(&self, attempt: u32) -> (u64, u64) {
        let d = self.ceiling_ms(attempt);
        (d / 2, d / 2 + d / 2)
    }

    /// The wait after attempt `attempt`, jittered by `random` (any `u64`, uniform): in
    /// [`Backoff::range_ms`].
    pub fn wait(&self, attempt: u32, random: u64) -> Duration {
        let (low, high) = self.range_ms(attempt);
        Duration::from_millis(low + random % (high - low + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_max() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_millis(1_000),
        };
        let ceilings: Vec<u64> = (1..=6).map(|n| b.ceiling_ms(n)).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(b.range_ms(1), (50, 100));
        assert_eq!(b.range_ms(25), (500, 1_000));
        assert_eq!(b.ceiling_ms(0), 100);
    }

    #[test]
    fn waits_fall_in_their_range_and_spread_over_it() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_millis(1_000),
        };
        for attempt in [1, 2, 5, 40] {
            let (low, high) = b.range_ms(attempt);
            let ms = |random| b.wait(attempt, random).as_millis() as u64;
            assert_eq!(
                (ms(0), ms(high - low), ms(u64::MAX)),
                (low, high, low + u64::MAX % (high - low + 1))
            );
            let waits: std::collections::HashSet<u64> =
                (0..1_000).map(|_| ms(fastrand::u64(..))).collect();
            assert!(waits.iter().all(|w| (low..=high).contains(w)), "{waits:?}");
            assert!(
                waits.len() > (high - low) as usize / 4,
                "spread: {}",
                waits.len()
            );
        }
    }
}
