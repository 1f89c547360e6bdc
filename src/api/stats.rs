//! `GET /stats`: jobs by status and kind, jobs ended per 10 s over the last 15 minutes, queue
//! depth and running jobs — for the dashboard's counters and charts.
//!
//! The counts come from the store's indexes, not from a scan of the jobs themselves, and each
//! answer is kept per API key for a while before it is computed again: at least
//! [`MIN_TTL`], longer when computing took long ([`COST_FACTOR`] times as long, at most
//! [`MAX_TTL`]), so that however many dashboards poll it, the store spends at most about
//! 1/[`COST_FACTOR`] of a connection's time on it per key. One computation runs at a time
//! per key.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::{Json, Router, routing::get};
use chrono::{DateTime, DurationRound, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::Caller;
use super::error::ApiResult;
use super::responses::StoreErrors;
use crate::job::JobStatus;
use crate::store::{StatsQuery, StoreStats};

/// Width of one bucket of the throughput window.
pub const BUCKET: Duration = Duration::from_secs(10);
/// Buckets in the window (15 minutes).
pub const BUCKETS: usize = 90;
/// Shortest time an answer is reused.
pub const MIN_TTL: Duration = Duration::from_secs(1);
/// Longest time an answer is reused.
pub const MAX_TTL: Duration = Duration::from_secs(15);
/// An answer is reused this many times as long as it took to compute.
pub const COST_FACTOR: u32 = 20;

/// Jobs in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatusCounts {
    pub queued: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub timed_out: u64,
}

impl StatusCounts {
    fn add(&mut self, status: JobStatus, n: u64) {
        *match status {
            JobStatus::Queued => &mut self.queued,
            JobStatus::Running => &mut self.running,
            JobStatus::Succeeded => &mut self.succeeded,
            JobStatus::Failed => &mut self.failed,
            JobStatus::Cancelled => &mut self.cancelled,
            JobStatus::TimedOut => &mut self.timed_out,
        } += n;
    }
}

/// Jobs that ended, per bucket of the window, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Throughput {
    /// Width of a bucket in seconds (10).
    pub bucket_secs: u64,
    /// Start of the first bucket; the last one is the current, partly elapsed bucket.
    pub since: DateTime<Utc>,
    /// Jobs that reached a final state in each bucket (90 buckets: 15 minutes).
    pub finished: Vec<u64>,
    /// Of those, the ones that ended `failed` or `timed_out`.
    pub failed: Vec<u64>,
}

/// The answer of `GET /stats` (the caller's jobs only, when API keys are on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Stats {
    /// When these figures were computed (they are reused for a second or more).
    pub at: DateTime<Utc>,
    /// Jobs by status.
    pub counts: StatusCounts,
    /// Jobs by kind (every kind, zeros included) and status.
    pub kinds: BTreeMap<String, StatusCounts>,
    /// Jobs queued (waiting for their time or dependencies included).
    pub queue_depth: u64,
    /// Jobs running, on every instance.
    pub running: u64,
    pub throughput: Throughput,
}

impl Stats {
    /// The answer from the store's rows, for the window starting at `since`, with a row for
    /// each of `known` (the registered kinds) even when it has no jobs.
    pub fn from_store(
        rows: &StoreStats,
        known: &[&str],
        at: DateTime<Utc>,
        since: DateTime<Utc>,
    ) -> Self {
        let mut counts = StatusCounts::default();
        let mut kinds: BTreeMap<String, StatusCounts> = known
            .iter()
            .map(|k| ((*k).to_owned(), StatusCounts::default()))
            .collect();
        for c in &rows.counts {
            counts.add(c.status, c.count);
            kinds
                .entry(c.kind.as_str().to_owned())
                .or_default()
                .add(c.status, c.count);
        }
        let mut finished = vec![0; BUCKETS];
        let mut failed = vec![0; BUCKETS];
        for b in &rows.finished {
            let Some(i) = usize::try_from(b.bucket).ok().filter(|&i| i < BUCKETS) else {
                continue;
            };
            finished[i] += b.count;
            if matches!(b.status, JobStatus::Failed | JobStatus::TimedOut) {
                failed[i] += b.count;
            }
        }
        Self {
            at,
            queue_depth: counts.queued,
            running: counts.running,
            counts,
            kinds,
            throughput: Throughput {
                bucket_secs: BUCKET.as_secs(),
                since,
                finished,
                failed,
            },
        }
    }
}

/// The start of the window ending with the bucket that holds `now`.
pub fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let bucket = chrono::Duration::from_std(BUCKET).unwrap_or(chrono::Duration::seconds(10));
    let current = now.duration_trunc(bucket).unwrap_or(now);
    current - bucket * (BUCKETS as i32 - 1)
}

/// How long an answer that took `cost` to compute is reused.
pub fn ttl(cost: Duration) -> Duration {
    (cost * COST_FACTOR).clamp(MIN_TTL, MAX_TTL)
}

/// An answer, when it was computed and how long it is reused.
#[derive(Debug)]
struct Answer {
    at: Instant,
    ttl: Duration,
    stats: Arc<Stats>,
}

/// The last answer per API key (`None`: keys off), and one computation at a time.
#[derive(Debug, Default)]
pub struct StatsCache {
    answers: Mutex<HashMap<Option<String>, Answer>>,
    /// One computation at a time per key (a large key does not hold up the others).
    computing: Mutex<HashMap<Option<String>, Arc<tokio::sync::Mutex<()>>>>,
}

impl StatsCache {
    fn turn(&self, tenant: &Option<String>) -> Arc<tokio::sync::Mutex<()>> {
        let mut computing = self.computing.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(computing.entry(tenant.clone()).or_default())
    }

    fn fresh(&self, tenant: &Option<String>) -> Option<Arc<Stats>> {
        let answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        let answer = answers.get(tenant)?;
        (answer.at.elapsed() < answer.ttl).then(|| Arc::clone(&answer.stats))
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/stats", get(stats))
}

/// Counters and throughput for a dashboard.
///
/// Computed from the store's indexes and reused for at least a second (longer when the store
/// is large): poll it every few seconds.
#[utoipa::path(
    get, path = "/stats", tag = "jobs",
    responses(
        (status = 200, description = "Jobs by status and kind, throughput over 15 minutes", body = Stats),
        StoreErrors,
    )
)]
pub async fn stats(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Arc<Stats>>> {
    let cache = &state.stats;
    if let Some(stats) = cache.fresh(&caller.tenant) {
        return Ok(Json(stats));
    }
    let turn = cache.turn(&caller.tenant);
    let _one = turn.lock().await;
    if let Some(stats) = cache.fresh(&caller.tenant) {
        return Ok(Json(stats));
    }
    let started = Instant::now();
    let at = crate::store::now();
    let since = window_start(at);
    let query = StatsQuery {
        tenant: caller.tenant.clone(),
        since,
        bucket: BUCKET,
    };
    let rows = state.runtime.store().stats(&query).await?;
    let known = state.runtime.kinds().known();
    let stats = Arc::new(Stats::from_store(&rows, &known, at, since));
    let cost = started.elapsed();
    cache
        .answers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(
            caller.tenant,
            Answer {
                at: Instant::now(),
                ttl: ttl(cost),
                stats: Arc::clone(&stats),
            },
        );
    Ok(Json(stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::test_kind;
    use crate::store::{BucketCount, KindCount};

    #[test]
    fn the_window_ends_with_the_current_bucket() {
        let now: DateTime<Utc> = "2026-11-26T18:00:07.250Z".parse().unwrap();
        let since = window_start(now);
        assert_eq!(
            since,
            "2026-11-26T17:45:10Z".parse::<DateTime<Utc>>().unwrap()
        );
        // The bucket of `now` is the last one.
        let last = since + chrono::Duration::seconds(10 * (BUCKETS as i64 - 1));
        assert!(last <= now && now < last + chrono::Duration::seconds(10));
    }

    #[test]
    fn answers_are_reused_longer_when_they_cost_more() {
        assert_eq!(ttl(Duration::ZERO), MIN_TTL);
        assert_eq!(ttl(Duration::from_millis(10)), MIN_TTL);
        assert_eq!(ttl(Duration::from_millis(200)), Duration::from_secs(4));
        assert_eq!(ttl(Duration::from_secs(3)), MAX_TTL);
    }

    #[test]
    fn rows_add_up_by_status_kind_and_bucket() {
        let rows = StoreStats {
            counts: vec![
                KindCount {
                    kind: test_kind("sleep"),
                    status: JobStatus::Queued,
                    count: 3,
                },
                KindCount {
                    kind: test_kind("sleep"),
                    status: JobStatus::Failed,
                    count: 2,
                },
                KindCount {
                    kind: test_kind("count_primes"),
                    status: JobStatus::Queued,
                    count: 4,
                },
                KindCount {
                    kind: test_kind("count_primes"),
                    status: JobStatus::Running,
                    count: 1,
                },
            ],
            finished: vec![
                BucketCount {
                    bucket: 0,
                    status: JobStatus::Succeeded,
                    count: 5,
                },
                BucketCount {
                    bucket: 0,
                    status: JobStatus::TimedOut,
                    count: 1,
                },
                BucketCount {
                    bucket: 89,
                    status: JobStatus::Failed,
                    count: 2,
                },
                BucketCount {
                    bucket: 89,
                    status: JobStatus::Cancelled,
                    count: 7,
                },
                // Past the window (a clock step): ignored.
                BucketCount {
                    bucket: 90,
                    status: JobStatus::Succeeded,
                    count: 9,
                },
            ],
        };
        let at = crate::store::now();
        let known = [
            "count_primes",
            "factorial",
            "sleep",
            "fetch_urls",
            "word_count",
        ];
        let s = Stats::from_store(&rows, &known, at, window_start(at));
        assert_eq!(
            (s.counts.queued, s.counts.running, s.counts.failed),
            (7, 1, 2)
        );
        assert_eq!((s.queue_depth, s.running), (7, 1));
        assert_eq!(s.kinds.len(), known.len());
        assert_eq!(s.kinds["sleep"].queued, 3);
        assert_eq!(s.kinds["count_primes"].running, 1);
        assert_eq!(s.kinds["factorial"], StatusCounts::default());
        assert_eq!(s.throughput.finished.len(), BUCKETS);
        assert_eq!((s.throughput.finished[0], s.throughput.failed[0]), (6, 1));
        assert_eq!((s.throughput.finished[89], s.throughput.failed[89]), (9, 2));
        assert_eq!(s.throughput.finished.iter().sum::<u64>(), 15);
    }
}
