//! The bounds and defaults every submission is checked against, whatever its kind (each kind
//! holds its own bounds, see `crate::kind::Kind::validate`), set by configuration.

/// Caps and defaults for submitted jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub default_timeout_ms: u64,
    /// Largest `timeout_ms` accepted (24 h).
    pub max_timeout_ms: u64,
    pub default_priority: i32,
    pub default_max_attempts: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            default_timeout_ms: 60_000,
            max_timeout_ms: 24 * 60 * 60 * 1000,
            default_priority: 0,
            default_max_attempts: 3,
        }
    }
}
