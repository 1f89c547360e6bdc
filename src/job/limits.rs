//! The limits and defaults that validation applies, set by configuration.

use super::JobKind;

/// Caps and defaults for submitted jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The kinds accepted (`--kinds`); a submission of any other is refused.
    pub kinds: Vec<JobKind>,
    pub default_timeout_ms: u64,
    /// Largest `timeout_ms` accepted (24 h).
    pub max_timeout_ms: u64,
    pub default_priority: i32,
    pub default_max_attempts: u32,
    /// Largest `end` of `count_primes`.
    pub max_primes_end: u64,
    /// Largest n of `factorial`.
    pub max_factorial_n: u64,
    /// Most numbers in one `factorial` job.
    pub max_factorial_numbers: usize,
    /// Longest `sleep`.
    pub max_sleep_ms: u64,
    /// Most URLs in one `fetch_urls` job.
    pub max_fetch_urls: usize,
    /// Largest `concurrency` of one `fetch_urls` job.
    pub max_fetch_concurrency: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            kinds: JobKind::ALL.to_vec(),
            default_timeout_ms: 60_000,
            max_timeout_ms: 24 * 60 * 60 * 1000,
            default_priority: 0,
            default_max_attempts: 3,
            max_primes_end: crate::kinds::count_primes::MAX_END,
            max_factorial_n: crate::kinds::factorial::DEFAULT_MAX_N,
            max_factorial_numbers: 100,
            max_sleep_ms: 3_600_000,
            max_fetch_urls: 10_000,
            max_fetch_concurrency: 1_000,
        }
    }
}
