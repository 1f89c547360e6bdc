//! When a retry runs: exponential back-off with jitter.
//!
//! After attempt `n` failed with a retryable error, the job waits `d/2 + uniform(0, d/2)` with
//! `d = min(base · 2^(n-1), max)` ("equal jitter"): waits grow quickly, never exceed `max`,
//! and retries of jobs that failed together (a database or network hiccup) spread out instead
//! of coming back at once. The stores compute it in SQL, under the row lock, from the attempt
//! they hold; this is the reference they are tested against.

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

    pub fn base_ms(&self) -> i64 {
        self.base.as_millis().min(u128::from(u32::MAX)) as i64
    }

    pub fn max_ms(&self) -> i64 {
        self.max.as_millis().min(u128::from(u32::MAX)) as i64
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
}
