//! Inserting jobs (consecutive inserts in one statement, or one `InsertMany`): where their
//! dependencies stand, whether an insert may start its job (see [`super::watch`]), and each
//! job's turn in line.
//!
//! Claims take the highest priority, then the lowest turn. A job without a tenant takes its
//! `created_at` (in ms) as its turn: first come, first served. A tenant's job takes the head
//! of its line (the lowest turn queued of its kind and priority), or one past its tenant's
//! last turn in that line (among its jobs due and waiting for nothing), whichever is later. So a tenant that queued 50,000 jobs has turns
//! far ahead, and another's first job goes to the head: claims alternate between the tenants
//! that have jobs in line (start-time fair queuing, one unit per job). Two processes that
//! insert a tenant's jobs at once may give two the same turn; the id then decides.

use std::collections::HashMap;
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
                turn: job.created_at.timestamp_millis(),
            })
        })
        .collect();
    let mut rows = rows;
    take_turns::<D>(conn, &mut rows).await?;
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

/// Sets the turn of each tenant's job of `rows` (see the module's header); the others keep
/// their `created_at`.
async fn take_turns<D: Sql>(conn: &mut Conn<D>, rows: &mut [Insert<'_>]) -> Result<()> {
    type Line<'a> = (&'a str, i32);
    let mut heads: HashMap<Line, Option<i64>> = HashMap::new();
    let mut lasts: HashMap<(&str, Line), Option<i64>> = HashMap::new();
    for row in rows.iter_mut() {
        let job = row.job;
        let Some(tenant) = job.tenant.as_deref() else {
            continue;
        };
        let line = (job.kind.as_str(), job.options.priority);
        let head = match heads.get(&line) {
            Some(&head) => head,
            None => D::queue_head(conn, line.0, line.1).await?,
        };
        let last = match lasts.get(&(tenant, line)) {
            Some(&last) => last,
            None => D::tenant_last(conn, tenant, line.0, line.1, now()).await?,
        };
        let turn = head
            .unwrap_or(row.turn)
            .max(last.map_or(i64::MIN, |last| last.saturating_add(1)));
        row.turn = turn;
        // An empty line starts at this job.
        heads.insert(line, Some(head.map_or(turn, |head| head.min(turn))));
        lasts.insert((tenant, line), Some(turn));
    }
    Ok(())
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
