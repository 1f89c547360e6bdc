//! What one batch does inside its transaction: the writes in order, consecutive inserts,
//! finishes and saved pages as one statement each, what they changed (for the observer of
//! commits) and what their results tell other processes.

use super::writer::{Done, Op};
use super::{Conn, DepState, Dialect, Effects, Insert, RunEnd};
use crate::job::{JobClass, JobStatus};
use crate::store::commit::{self, Cause, Change};
use crate::store::{
    CancelResult, Inserted, Lease, NewFile, NewJob, Outcome, Result, StoreError, now,
};

/// Adds to `effects` what the results of `ops` say for other processes: jobs made final or
/// claimable, cancels of running jobs.
pub(super) fn observe(ops: &[Op], done: &[Done], effects: &mut Effects) {
    let inserted = |job: &crate::job::Job, effects: &mut Effects| match job.status {
        JobStatus::Queued => effects.queued = true,
        status if status.is_final() => effects.finals.push(job.id),
        _ => {}
    };
    for (op, done) in ops.iter().zip(done) {
        match (op, done) {
            (Op::Insert(..), Done::Inserted(result)) => {
                if let Ok(job) = &**result {
                    inserted(job, effects);
                }
            }
            (Op::InsertMany(..), Done::InsertedMany(results)) => {
                results
                    .iter()
                    .flatten()
                    .for_each(|job| inserted(job, effects));
            }
            (Op::Finish { end, .. }, Done::Applied(true)) => {
                // A hand-back or a retry queues the job again (or ends it: a cancel pending,
                // no attempts left).
                effects.queued |= matches!(end.outcome, Outcome::Requeue | Outcome::Retry(_));
                effects.finals.push(end.lease.id);
            }
            (Op::Cancel(id, _), Done::Cancel(result)) => match **result {
                CancelResult::Cancelled(_) => effects.finals.push(*id),
                CancelResult::Requested(_) => effects.cancels.push(*id),
                CancelResult::AlreadyFinal(_) | CancelResult::NotFound => {}
            },
            (Op::Recover(..), Done::Recovered(r)) if r.requeued > 0 => effects.queued = true,
            _ => {}
        }
    }
    effects.finals.extend_from_slice(&effects.released);
}

/// Reads back, before the commit, the jobs whose new state only the database decided (see
/// [`Effects::reread`]; jobs settled as a side effect, in `effects.released` and
/// `effects.requeued`, too) and adds them to the changes.
pub(super) async fn reread<D: Dialect>(conn: &mut Conn<D>, effects: &mut Effects) -> Result<()> {
    let settled =
        (effects.released.iter().chain(&effects.requeued)).map(|&id| (id, Cause::Settled));
    let mut reread: Vec<_> = effects.reread.drain(..).chain(settled).collect();
    if reread.is_empty() {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::new();
    reread.retain(|(id, _)| seen.insert(*id));
    let ids: Vec<_> = reread.iter().map(|(id, _)| *id).collect();
    let mut jobs: std::collections::HashMap<_, _> = D::read_jobs(conn, &ids)
        .await?
        .into_iter()
        .map(|job| (job.id, job))
        .collect();
    for (id, cause) in reread {
        if let Some(job) = jobs.remove(&id) {
            effects.changes.push(Change { job, cause });
        }
    }
    Ok(())
}

/// Executes `ops` in order inside the open transaction, one result per op.
pub(super) async fn execute<D: Dialect>(
    conn: &mut Conn<D>,
    ops: &[Op],
    effects: &mut Effects,
) -> Result<Vec<Done>> {
    let mut done = Vec::with_capacity(ops.len());
    while done.len() < ops.len() {
        let results = execute_run::<D>(conn, &ops[done.len()..], effects).await?;
        done.extend(results);
    }
    Ok(done)
}

/// Executes the writes at the head of `ops`: a run of consecutive inserts, finishes or saved
/// files as one multi-row statement, anything else alone. One result per write executed.
async fn execute_run<D: Dialect>(
    conn: &mut Conn<D>,
    ops: &[Op],
    effects: &mut Effects,
) -> Result<Vec<Done>> {
    let head = std::mem::discriminant(&ops[0]);
    let run = ops
        .iter()
        .take_while(|op| std::mem::discriminant(*op) == head);
    Ok(match &ops[0] {
        Op::Insert(..) => {
            let jobs: Vec<&NewJob> = run
                .filter_map(|op| match op {
                    Op::Insert(job, _) => Some(&**job),
                    _ => None,
                })
                .collect();
            let inserted = insert::<D>(conn, &jobs, effects).await?;
            inserted
                .into_iter()
                .map(|i| Done::Inserted(Box::new(i)))
                .collect()
        }
        Op::Finish { .. } => {
            let ends: Vec<&RunEnd> = run
                .filter_map(|op| match op {
                    Op::Finish { end, .. } => Some(&**end),
                    _ => None,
                })
                .collect();
            let applied = D::finish_many(conn, &ends, effects).await?;
            for end in ends.iter().filter(|e| applied.contains(&e.lease)) {
                ended(end, effects);
            }
            let applied = |e: &&RunEnd| Done::Applied(applied.contains(&e.lease));
            ends.iter().map(applied).collect()
        }
        Op::SaveFile { .. } => {
            let files: Vec<(Lease, &NewFile)> = run
                .filter_map(|op| match op {
                    Op::SaveFile { lease, file, .. } => Some((*lease, file)),
                    _ => None,
                })
                .collect();
            let saved = D::save_files(conn, &files).await?;
            let saved = |(lease, file): &(Lease, &NewFile)| {
                Done::Applied(saved.contains(&(lease.id, file.index)))
            };
            files.iter().map(saved).collect()
        }
        op => vec![execute_one::<D>(conn, op, effects).await?],
    })
}

/// Executes one write that is not batched with its neighbours.
async fn execute_one<D: Dialect>(
    conn: &mut Conn<D>,
    op: &Op,
    effects: &mut Effects,
) -> Result<Done> {
    Ok(match op {
        Op::Claim {
            class,
            kinds,
            n,
            owner,
            lease,
            ..
        } => {
            let claimed = D::claim(conn, kinds, *n, owner, *lease, now()).await?;
            // The dispatcher claims for one class, every kind of it this process runs.
            if claimed.len() < *n {
                effects.drained.push(*class);
            }
            let started = claimed.iter().map(|c| Change {
                job: c.job.clone(),
                cause: Cause::Claimed,
            });
            effects.changes.extend(started);
            Done::Claimed(claimed)
        }
        Op::Heartbeat {
            lease,
            progress,
            lease_for,
            ..
        } => Done::Lease(D::heartbeat(conn, *lease, *progress, *lease_for, now()).await?),
        Op::Cancel(id, _) => {
            let result = D::cancel(conn, *id, now(), effects).await?;
            if let CancelResult::Cancelled(job) = &result {
                let cause = Cause::Cancelled;
                effects.changes.push(Change {
                    job: job.clone(),
                    cause,
                });
            }
            Done::Cancel(Box::new(result))
        }
        Op::Delete(id, _) => Done::Delete(D::delete(conn, *id, effects).await?),
        Op::Recover(which, backoff, _) => {
            Done::Recovered(D::recover(conn, now(), which, *backoff, effects).await?)
        }
        Op::ClearFiles(lease, _) => Done::Applied(D::clear_files(conn, *lease).await?),
        Op::Prune(retention, _) => Done::Count(D::prune(conn, now(), retention).await?),
        Op::Ping(_) => {
            D::ping(conn).await?;
            Done::Unit
        }
        Op::InsertMany(jobs, _) => {
            let jobs: Vec<&NewJob> = jobs.iter().collect();
            Done::InsertedMany(insert::<D>(conn, &jobs, effects).await?)
        }
        // `execute_run` takes these, in runs; never here.
        Op::Insert(..) | Op::Finish { .. } | Op::SaveFile { .. } => {
            return Err(StoreError::Corrupt(
                "a batched write was executed alone".into(),
            ));
        }
    })
}

/// Adds to `effects` the change the recorded end of a run made: the final job, built from the
/// job the run had; or, for a retry or a hand-back (the database decides: queued again after
/// a back-off, or final), a job to read back.
fn ended(end: &RunEnd, effects: &mut Effects) {
    let cause = match end.outcome {
        Outcome::Retry(_) => Cause::Retried,
        Outcome::Requeue => Cause::HandedBack,
        _ => Cause::RunEnded,
    };
    match commit::ended(end.job.clone(), &end.outcome, end.progress, end.at) {
        Some(job) => effects.changes.push(Change { job, cause }),
        None => effects.reread.push((end.lease.id, cause)),
    }
}

/// The classes in which the jobs asking to start at their insert may: the writer knows of
/// nothing claimable of the class queued (see [`super::watch`]), and the database agrees (it
/// also sees what this transaction's earlier writes queued or released, delayed jobs come
/// due, other processes' jobs).
async fn startable<D: Dialect>(
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
async fn insert<D: Dialect>(
    conn: &mut Conn<D>,
    jobs: &[&NewJob],
    effects: &mut Effects,
) -> Result<Vec<Result<crate::job::Job>>> {
    if jobs.iter().any(|job| !job.depends_on.is_empty()) {
        effects.waits = true;
    }
    let mut starts = Vec::with_capacity(jobs.len());
    let mut waits = Vec::new();
    for &job in jobs {
        if job.depends_on.is_empty() {
            starts.push(Ok((0, None)));
            continue;
        }
        starts.push(match D::check_deps(conn, &job.depends_on).await {
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
    let startable = startable::<D>(conn, jobs, effects).await?;
    let started = |job: &NewJob| {
        job.may_start_at_insert()
            && (job.start.as_ref()).is_some_and(|start| startable.contains(&start.class))
    };
    let rows: Vec<Insert> = jobs
        .iter()
        .zip(&starts)
        .filter_map(|(&job, start)| {
            let (waiting, failed) = start.as_ref().ok()?;
            Some(Insert {
                job,
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
    let results: Vec<Result<crate::job::Job>> = jobs
        .iter()
        .zip(starts)
        .map(|(new, start)| {
            start.map(|(_, failed)| {
                let how = match failed {
                    Some(error) => Inserted::Failed(error),
                    None if started(new) => Inserted::Started,
                    None => Inserted::Queued,
                };
                commit::inserted(new, &how)
            })
        })
        .collect();
    let submitted = results.iter().flatten().map(|job| Change {
        job: job.clone(),
        cause: Cause::Submitted,
    });
    effects.changes.extend(submitted);
    Ok(results)
}
