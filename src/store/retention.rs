//! How long final jobs are kept ([`Retention`]).

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How long final jobs are kept (`None`: forever), and how many one prune removes at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Succeeded and cancelled jobs.
    pub succeeded: Option<Duration>,
    /// Failed and timed-out jobs.
    pub failed: Option<Duration>,
    pub batch: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            succeeded: Some(Duration::from_secs(24 * 3600)),
            failed: Some(Duration::from_secs(7 * 24 * 3600)),
            batch: 1000,
        }
    }
}

impl Retention {
    /// The end times before which jobs go, as of `now`: (succeeded and cancelled, failed and
    /// timed out); `None` keeps that group.
    pub fn cutoffs(&self, now: DateTime<Utc>) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let before = |keep: Option<Duration>| {
            keep.map(|d| now - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX))
        };
        (before(self.succeeded), before(self.failed))
    }
}
