//! How runs end and are settled, decided once for both databases. A final end is recorded as
//! the run says (one statement for a batch: [`super::EndSql::finish_many`]). Every other end
//! depends on what the job's row holds under its lock (a cancel another instance may have
//! asked for, the attempts left): a retry, a hand-back at shutdown, a run a crash left or
//! whose lease expired. Those rows are read and locked ([`super::EndSql::interrupted`]),
//! decided here ([`decide`], with the back-off of [`Backoff`]), and written as decided
//! ([`super::EndSql::settle`]), all in the writer's transaction; the dependents of the jobs
//! they made final are released ([`deps::release`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Conn, Effects, Interrupted, Sql, deps};
use crate::job::{Backoff, JobError, JobErrorCode, JobId, JobProgress, JobStatus};
use crate::store::{Lease, Outcome, Recovered, Result, RunEnd};

/// What recording final ends did.
#[derive(Debug, Default)]
pub(crate) struct Ended {
    /// The leases whose end was written, with the status each left its job in.
    pub applied: HashMap<Lease, JobStatus>,
    /// Jobs made final that may have dependents to release.
    pub finals: Vec<(JobId, JobStatus)>,
}

/// A running job to settle, as its row is (locked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Interruption {
    pub lease: Lease,
    pub attempt: u32,
    pub max_attempts: u32,
    pub cancel_requested: bool,
    /// When a remote worker holds the run (its owner is `worker:…`): its deadline.
    pub worker_deadline: Option<DateTime<Utc>>,
}

/// Why a running job is settled.
#[derive(Debug, Clone)]
enum Why {
    /// Its run failed with this retryable error, with this last progress.
    Retry(JobError, Option<JobProgress>),
    /// Its run was handed back at shutdown: the attempt does not count.
    HandBack,
    /// Its run was lost: its process died or its lease expired.
    Interrupted,
    /// Its deadline passed while a remote worker held it.
    Overdue,
}

/// What a running job becomes, to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settle {
    pub lease: Lease,
    /// `queued`, or final.
    pub status: JobStatus,
    /// Its `error_code` and `error_message`.
    pub error: Option<JobError>,
    /// How the attempt ended, for `errors` (none: the attempt leaves no trace there).
    pub attempt_error: Option<JobError>,
    /// When it is due again, when queued after a back-off.
    pub run_after: Option<DateTime<Utc>>,
    /// Queued again without its attempt counting (a hand-back).
    pub uncount: bool,
    /// The run's last progress (kept on a final job).
    pub progress: Option<JobProgress>,
    /// When: its end, if it becomes final; the time of its errors.
    pub at: DateTime<Utc>,
}

/// The error of a worker's run that passed its deadline.
const OVERDUE: &str = "the worker did not finish it within its timeout_ms";

/// What `errors` keeps of an interrupted run.
const INTERRUPTED: &str = "its run was interrupted (the process stopped or lost the lease)";

/// What `run` becomes for `why`, at `now`. A passed deadline makes it `timed_out`. Then a
/// pending cancel wins: `cancelled`. Then, with
/// its attempts used up, a retry or an interruption fails the job; else it is queued again,
/// due after the back-off of its attempt. A hand-back queues it again, the attempt uncounted.
fn decide(run: &Interruption, why: &Why, now: DateTime<Utc>, backoff: Backoff) -> Settle {
    let (error, progress) = match why {
        Why::Retry(error, progress) => (Some(error.clone()), *progress),
        Why::Interrupted => (
            Some(JobError::new(JobErrorCode::Interrupted, INTERRUPTED)),
            None,
        ),
        Why::HandBack => (None, None),
        Why::Overdue => (Some(JobError::new(JobErrorCode::TimedOut, OVERDUE)), None),
    };
    let settle = Settle {
        lease: run.lease,
        status: JobStatus::Queued,
        error: None,
        attempt_error: None,
        run_after: None,
        uncount: false,
        progress,
        at: now,
    };
    // Past its deadline the job is timed out, as an answer after it would make it.
    if let Why::Overdue = why {
        return Settle {
            status: JobStatus::TimedOut,
            error: error.clone(),
            attempt_error: error,
            ..settle
        };
    }
    if run.cancel_requested {
        let cancelled = JobError::new(
            JobErrorCode::Cancelled,
            "cancelled by request while running",
        );
        return Settle {
            status: JobStatus::Cancelled,
            error: Some(cancelled),
            // A failed attempt keeps its end in `errors`.
            attempt_error: error.filter(|_| matches!(why, Why::Retry(..))),
            ..settle
        };
    }
    if let Why::HandBack = why {
        return Settle {
            uncount: true,
            ..settle
        };
    }
    if run.attempt >= run.max_attempts {
        let last = match why {
            Why::Interrupted => error
                .clone()
                .map(|e| JobError::new(e.code, format!("{} and no attempts were left", e.message))),
            _ => error.clone(),
        };
        return Settle {
            status: JobStatus::Failed,
            error: last,
            attempt_error: error,
            ..settle
        };
    }
    let wait = backoff.wait(run.attempt, fastrand::u64(..));
    Settle {
        error: error.clone(),
        attempt_error: error,
        run_after: Some(now + chrono::Duration::from_std(wait).unwrap_or_default()),
        ..settle
    }
}

/// Records the ends of runs (a batch's consecutive finishes), fenced by their leases (and a
/// remote worker's answers by their deadline, see [`RunEnd::answered`]), and releases the
/// dependents of the jobs they made final. The leases applied, with the status each left.
pub(crate) async fn finish<D: Sql>(
    conn: &mut Conn<D>,
    ends: &[&RunEnd],
    backoff: Backoff,
    effects: &mut Effects,
) -> Result<HashMap<Lease, JobStatus>, sqlx::Error> {
    let (finals, others): (Vec<&RunEnd>, Vec<&RunEnd>) =
        (ends.iter().copied()).partition(|end| end.outcome.final_state().is_some());
    let now = ends.iter().map(|e| e.at).max().unwrap_or_else(Utc::now);
    let mut ended = match finals.is_empty() {
        true => Ended::default(),
        false => D::finish_many(conn, &finals).await?,
    };
    if !others.is_empty() {
        let leases: Vec<Lease> = others.iter().map(|e| e.lease).collect();
        let runs = D::interrupted(conn, &Interrupted::Ended(leases), now).await?;
        let settles: Vec<Settle> = (others.iter())
            .filter_map(|end| {
                let run = runs.iter().find(|r| r.lease == end.lease)?;
                if end.answered && run.worker_deadline.is_none_or(|d| end.at >= d) {
                    return None;
                }
                let why = match &end.outcome {
                    Outcome::Retry(error) => Why::Retry(error.clone(), end.progress),
                    _ => Why::HandBack,
                };
                Some(decide(run, &why, end.at, backoff))
            })
            .collect();
        let settled = D::settle(conn, &settles).await?;
        for settle in settles.iter().filter(|s| settled.contains(&s.lease.id)) {
            ended.applied.insert(settle.lease, settle.status);
            if settle.status.is_final() {
                ended.finals.push((settle.lease.id, settle.status));
            }
        }
    }
    deps::release::<D>(conn, ended.finals, now, effects).await?;
    Ok(ended.applied)
}

/// Settles interrupted runs (`which`): each queued again after its back-off while attempts
/// remain, else failed with `interrupted`, or cancelled when a cancel is pending; releases
/// the dependents of those made final. The jobs it settles go to `effects` (made final:
/// `released`; queued again: `requeued`).
pub(crate) async fn recover<D: Sql>(
    conn: &mut Conn<D>,
    now: DateTime<Utc>,
    which: &Interrupted,
    backoff: Backoff,
    effects: &mut Effects,
) -> Result<Recovered> {
    let runs = D::interrupted(conn, which, now).await?;
    let why = match which {
        Interrupted::Overdue(_) => Why::Overdue,
        _ => Why::Interrupted,
    };
    let settles: Vec<Settle> = (runs.iter())
        .map(|run| decide(run, &why, now, backoff))
        .collect();
    let settled = D::settle(conn, &settles).await?;
    let mut recovered = Recovered::default();
    let mut finals = Vec::new();
    for settle in settles.iter().filter(|s| settled.contains(&s.lease.id)) {
        let id = settle.lease.id;
        match settle.status {
            JobStatus::Cancelled => recovered.cancelled += 1,
            JobStatus::Failed => recovered.failed += 1,
            JobStatus::TimedOut => recovered.timed_out += 1,
            _ => {
                recovered.requeued += 1;
                effects.requeued.push(id);
                continue;
            }
        }
        finals.push((id, settle.status));
    }
    effects.released.extend(finals.iter().map(|(id, _)| *id));
    deps::release::<D>(conn, finals, now, effects).await?;
    Ok(recovered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn run(attempt: u32, max_attempts: u32, cancel_requested: bool) -> Interruption {
        let lease = Lease {
            id: JobId::new(),
            fence: 3,
        };
        Interruption {
            lease,
            attempt,
            max_attempts,
            cancel_requested,
            worker_deadline: None,
        }
    }

    #[test]
    fn a_pending_cancel_wins_then_attempts_decide() {
        let now = crate::store::now();
        let backoff = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        };
        let boom = JobError::new(JobErrorCode::Storage, "disk");
        let retry = Why::Retry(boom.clone(), Some(JobProgress { done: 1, total: 2 }));
        let status = |r: &Interruption, why: &Why| decide(r, why, now, backoff).status;
        use JobStatus::*;
        for why in [&retry, &Why::HandBack, &Why::Interrupted] {
            assert_eq!(status(&run(1, 3, true), why), Cancelled);
        }
        assert_eq!(status(&run(3, 3, false), &retry), Failed);
        assert_eq!(status(&run(3, 3, false), &Why::Interrupted), Failed);
        assert_eq!(status(&run(3, 3, false), &Why::HandBack), Queued);
        // A retry with attempts left: due after the back-off of its attempt.
        let again = decide(&run(2, 3, false), &retry, now, backoff);
        let due = again.run_after.unwrap() - now;
        assert!((100..=200).contains(&due.num_milliseconds()), "{due}");
        assert_eq!(
            (again.error.as_ref(), again.attempt_error.as_ref()),
            (Some(&boom), Some(&boom))
        );
        // A hand-back: the attempt uncounted, nothing recorded, due as it was.
        let back = decide(&run(2, 3, false), &Why::HandBack, now, backoff);
        assert!(back.uncount && back.error.is_none() && back.attempt_error.is_none());
        assert_eq!(back.run_after, None);
        // Out of attempts: failed, saying so.
        let lost = decide(&run(3, 3, false), &Why::Interrupted, now, backoff);
        let message = lost.error.unwrap().message;
        assert!(message.ends_with("and no attempts were left"), "{message}");
        assert_eq!(lost.attempt_error.unwrap().code, JobErrorCode::Interrupted);
        // Cancelled while a retry was pending: the attempt's failure is kept.
        let cancelled = decide(&run(1, 3, true), &retry, now, backoff);
        assert_eq!(cancelled.attempt_error, Some(boom));
        let cancelled = decide(&run(1, 3, true), &Why::Interrupted, now, backoff);
        assert_eq!(cancelled.attempt_error, None);
        // Past its deadline: timed out whatever attempts are left or a cancel pending, never
        // retried.
        for attempt in [1, 3] {
            let late = decide(&run(attempt, 3, false), &Why::Overdue, now, backoff);
            assert_eq!((late.status, late.run_after), (TimedOut, None));
            assert_eq!(late.error.map(|e| e.code), Some(JobErrorCode::TimedOut));
            assert_eq!(
                late.attempt_error.map(|e| e.code),
                Some(JobErrorCode::TimedOut)
            );
        }
        assert_eq!(status(&run(1, 3, true), &Why::Overdue), TimedOut);
    }
}
