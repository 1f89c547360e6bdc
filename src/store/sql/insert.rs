//! Inserting jobs (consecutive inserts in one statement, or one `InsertMany`): where their
//! dependencies stand, and whether an insert may start its job (see [`super::watch`]).

use std::sync::Arc;

use super::deps::{self, DepState};
use super::ops::ToInsert;
use super::{Conn, Effects, Insert, Sql};
use crate::job::{Job, JobClass};
use crate::store::commit::{self, Cause, Change};
use crate::store::{Inserted, NewJob, Result, StoreError, now};

/// The classes in which the jobs asking to start at their insert may: the writer knows of
/// nothing claimable of the class queued (see [`super::watch`]), and the database agrees (it
/// also sees what this transaction's earlier writes queued or released, delayed jobs come
/// due, other processes' jobs).
async fn startable<D: Sql>(
    conn: &mut Conn<D>,
    jobs: &[&NewJob],
    effects: &Effects,
) -> Result<Vec<JobClass>> {
    let mut startable = Vec::new();
    let mut looked = Vec::new();
    for job in jobs {
        let Some(start) = job.start.as_ref().filter(|_| job.may_start_at_insert()) else {
            continue;
        };
        let class = start.class;
        if looked.contains(&class) || !effects.queue.is_drained(class) {
            continue;
        }
        looked.push(class);
        if !D::claimable_queued(conn, &start.kinds, now()).await? {
            startable.push(class);
        }
    }
    Ok(startable)
}

/// Inserts new jobs (consecutive inserts, or one `InsertMany`): those without dependencies, or whose dependencies exist, in
/// one statement; a job naming an unknown dependency is refused alone.
pub(super) async fn insert<D: Sql>(
    conn: &mut Conn<D>,
    inserts: &[&ToInsert],
    effects: &mut Effects,
) -> Result<Vec<Result<Inserted>>> {
    let jobs: Vec<&NewJob> = inserts.iter().map(|i| &i.new).collect();
    if jobs.iter().any(|job| !job.depends_on.is_empty()) {
        effects.waits = true;
    }
    let mut starts = Vec::with_capacity(jobs.len());
    let mut waits = Vec::new();
    for &job in &jobs {
        if job.depends_on.is_empty() {
            starts.push(Ok((0, None)));
            continue;
        }
        starts.push(match deps::check::<D>(conn, &job.depends_on).await {
            Ok(DepState::Waiting(deps)) => {
                let n = deps.len();
                if n > 0 {
                    waits.push((job.id, deps));
                }
                Ok((n, None))
            }
            Ok(DepState::Failed(error)) => Ok((0, Some(error))),
            Err(err @ StoreError::UnknownDependency(_)) => Err(err),
            Err(err) => return Err(err),
        });
    }
    let startable = startable::<D>(conn, &jobs, effects).await?;
    let started = |job: &NewJob| {
        job.may_start_at_insert()
            && (job.start.as_ref()).is_some_and(|start| startable.contains(&start.class))
    };
    let rows: Vec<Insert> = inserts
        .iter()
        .zip(&starts)
        .filter_map(|(&insert, start)| {
            let job = &insert.new;
            let (waiting, failed) = start.as_ref().ok()?;
            Some(Insert {
                job,
                params: &insert.params,
                waiting: *waiting,
                failed: failed.clone(),
                started: started(job),
            })
        })
        .collect();
    D::insert_many(conn, &rows).await?;
    for (job, deps) in waits {
        D::add_waits(conn, job, &deps).await?;
    }
    Ok(jobs
        .iter()
        .zip(starts)
        .map(|(new, start)| {
            start.map(|(_, failed)| match failed {
                Some(error) => Inserted::Failed(error),
                None if started(new) => Inserted::Started,
                None => Inserted::Queued,
            })
        })
        .collect())
}

/// The stored job of `insert`, inserted `how`: the submitter's queued job, changed as the
/// insert says (shared with the change it makes, added to `effects`).
pub(super) fn stored(insert: &mut ToInsert, how: Inserted, effects: &mut Effects) -> Arc<Job> {
    let owner = insert.new.start.as_ref().map(|s| s.owner.as_str());
    commit::inserted(Arc::make_mut(&mut insert.job), &how, owner);
    let job = Arc::clone(&insert.job);
    let cause = Cause::Submitted;
    effects.changes.push(Change {
        job: Arc::clone(&job),
        cause,
    });
    job
}
