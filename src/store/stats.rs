//! What `GET /stats` asks of the store: jobs counted by kind and status, and the jobs that
//! ended recently counted by time bucket and status. Both read indexes only where they can
//! (`jobs_status_kind_id`, `jobs_finished`); the API caches the answer (see
//! `api::stats`), so that no request pays a scan.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::job::{JobKind, JobStatus};

/// Which jobs and which window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsQuery {
    /// Only jobs of this tenant (API keys on).
    pub tenant: Option<String>,
    /// The start of the window of ended jobs.
    pub since: DateTime<Utc>,
    /// The width of one bucket of the window.
    pub bucket: Duration,
}

/// Jobs of one kind in one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindCount {
    pub kind: JobKind,
    pub status: JobStatus,
    pub count: u64,
}

/// Jobs that reached final `status` in bucket `bucket` (0 = the one starting at `since`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketCount {
    pub bucket: u64,
    pub status: JobStatus,
    pub count: u64,
}

/// The store's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub counts: Vec<KindCount>,
    pub finished: Vec<BucketCount>,
}

/// The final states, as SQL literals.
pub(crate) const FINAL_STATUSES: &str = "('succeeded', 'failed', 'cancelled', 'timed_out')";

/// Rows of `(kind, status, count)` and `(bucket, status, count)` as text and integers.
pub(crate) fn from_rows(
    counts: Vec<(String, String, i64)>,
    finished: Vec<(i64, String, i64)>,
) -> StoreStats {
    StoreStats {
        counts: counts
            .into_iter()
            .filter_map(|(kind, status, n)| {
                Some(KindCount {
                    kind: JobKind::new(&kind).ok()?,
                    status: status.parse().ok()?,
                    count: n.max(0) as u64,
                })
            })
            .collect(),
        finished: finished
            .into_iter()
            .filter_map(|(bucket, status, n)| {
                Some(BucketCount {
                    bucket: u64::try_from(bucket).ok()?,
                    status: status.parse().ok()?,
                    count: n.max(0) as u64,
                })
            })
            .collect(),
    }
}
