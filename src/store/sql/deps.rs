//! Dependencies between jobs, written once for both databases: where a new job's
//! dependencies stand ([`DepState`]), and the release of the dependents of jobs that became
//! final ([`release`]); each database supplies the statements ([`super::DepSql`]).
//!
//! A waiting job is an ordinary queued row with `waiting_on > 0` (so it is never claimed) and
//! one `job_waits` row per dependency not final yet. Nothing polls: the write that makes a
//! job final releases its dependents in the same transaction, by set (one pass for all the
//! jobs a batch made final), and the dependents of a job that did not succeed fail in turn.

use chrono::{DateTime, Utc};

use super::{Conn, DepSql, Effects};
use crate::job::{JobError, JobErrorCode, JobId, JobStatus};
use crate::store::{Result, StoreError};

/// Where the dependencies of a new job stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DepState {
    /// Those not final yet (possibly none: the job can run).
    Waiting(Vec<JobId>),
    /// One of them already ended without succeeding.
    Failed(JobError),
}

/// Where the dependencies `deps` (distinct ids) of a new job stand;
/// [`StoreError::UnknownDependency`] for the first that does not exist.
pub(crate) async fn check<D: DepSql>(conn: &mut Conn<D>, deps: &[JobId]) -> Result<DepState> {
    let found = D::dep_statuses(conn, deps).await?;
    DepState::of(deps, &found)
}

impl DepState {
    /// Where `deps` stand given the statuses `found` of those that exist;
    /// [`StoreError::UnknownDependency`] for the first that does not.
    fn of(deps: &[JobId], found: &[(JobId, JobStatus)]) -> Result<Self> {
        let mut waiting = Vec::new();
        for &dep in deps {
            match found.iter().find(|(id, _)| *id == dep).map(|(_, s)| *s) {
                None => return Err(StoreError::UnknownDependency(dep)),
                Some(JobStatus::Succeeded) => {}
                Some(status) if status.is_final() => {
                    return Ok(Self::Failed(dependency_failed(dep, status)));
                }
                Some(_) => waiting.push(dep),
            }
        }
        Ok(Self::Waiting(waiting))
    }
}

/// The error of a job whose dependency `dep` ended `status`.
fn dependency_failed(dep: JobId, status: JobStatus) -> JobError {
    JobError::new(
        JobErrorCode::DependencyFailed,
        format!("dependency {dep} ended {status} instead of succeeding"),
    )
}

/// Releases the dependents of `finals` (jobs that just became final, with their status): a
/// dependent of one that did not succeed fails with `dependency_failed` (and releases its own
/// dependents in turn); otherwise it waits for one job fewer. The dependents it makes final
/// go to `effects.released`. Nothing at all while no job waits, the common case: where this
/// process is the only writer, the writer remembers that `job_waits` was empty.
pub(crate) async fn release<D: DepSql>(
    conn: &mut Conn<D>,
    finals: Vec<(JobId, JobStatus)>,
    now: DateTime<Utc>,
    effects: &mut Effects,
) -> Result<(), sqlx::Error> {
    if !effects.waits || finals.is_empty() {
        return Ok(());
    }
    if !D::SHARED && !D::any_waits(conn).await? {
        effects.waits = false;
        return Ok(());
    }
    let mut frontier = finals;
    while !frontier.is_empty() {
        let ids: Vec<JobId> = frontier.iter().map(|(id, _)| *id).collect();
        if !D::have_dependents(conn, &ids).await? {
            break;
        }
        let unsuccessful: Vec<(JobId, JobStatus)> = (frontier.iter().copied())
            .filter(|(_, status)| *status != JobStatus::Succeeded)
            .collect();
        let failed = match unsuccessful.is_empty() {
            true => Vec::new(),
            false => D::fail_dependents(conn, &unsuccessful, now).await?,
        };
        D::release_waits(conn, &ids).await?;
        forget_waits::<D>(conn, &failed).await?;
        effects.queued = true;
        effects.released.extend(&failed);
        frontier = failed
            .into_iter()
            .map(|id| (id, JobStatus::Failed))
            .collect();
    }
    Ok(())
}

/// Drops the waits of jobs that became final while waiting (cancelled, or failed by a
/// dependency): their other dependencies have nothing left to release.
pub(crate) async fn forget_waits<D: DepSql>(
    conn: &mut Conn<D>,
    jobs: &[JobId],
) -> Result<(), sqlx::Error> {
    if jobs.is_empty() {
        return Ok(());
    }
    D::forget_waits(conn, jobs).await
}
