//! What one batch does inside its transaction: the writes in order (consecutive inserts,
//! finishes and saved pages as one statement each), each answer set on its write, what they
//! changed (for the observer of commits) and what their results tell other processes.

use std::collections::HashSet;
use std::sync::Arc;

use super::insert::{insert, stored};
use super::ops::{Op, ToInsert};
use super::{Conn, Effects, Sql, deps, ends};
use crate::job::{Backoff, Job, JobId, JobKind, JobStatus};
use crate::store::commit::{Cause, Change};
use crate::store::{CancelResult, DeleteResult, Lease, NewFile, Outcome, Result, RunEnd, now};

/// Executes `ops` in order inside the open transaction, setting each one's answer.
/// Retries run after `backoff`.
pub(super) async fn execute<D: Sql>(
    conn: &mut Conn<D>,
    ops: &mut [Op],
    effects: &mut Effects,
    backoff: Backoff,
) -> Result<()> {
    let mut at = 0;
    while at < ops.len() {
        at += execute_run::<D>(conn, &mut ops[at..], effects, backoff).await?;
    }
    Ok(())
}

/// Executes the writes at the head of `ops`: a run of consecutive inserts, finishes or saved
/// files as one multi-row statement, anything else alone. How many it executed.
async fn execute_run<D: Sql>(
    conn: &mut Conn<D>,
    ops: &mut [Op],
    effects: &mut Effects,
    backoff: Backoff,
) -> Result<usize> {
    let head = std::mem::discriminant(&ops[0]);
    let n = (ops.iter())
        .take_while(|op| std::mem::discriminant(*op) == head)
        .count();
    let run = &mut ops[..n];
    match &run[0] {
        Op::Insert(_) => {
            let jobs: Vec<&ToInsert> = (run.iter())
                .filter_map(|op| match op {
                    Op::Insert(p) => Some(&*p.args),
                    _ => None,
                })
                .collect();
            let inserted = insert::<D>(conn, &jobs, effects).await?;
            effects.changes.reserve(inserted.len());
            for (op, result) in run.iter_mut().zip(inserted) {
                if let Op::Insert(p) = op {
                    let job = result.map(|how| stored(&mut p.args, how, effects));
                    p.set(job);
                }
            }
        }
        Op::Finish(_) => {
            let ends: Vec<&RunEnd> = (run.iter())
                .filter_map(|op| match op {
                    Op::Finish(p) => Some(&*p.args),
                    _ => None,
                })
                .collect();
            let statuses = finish::<D>(conn, &ends, effects, backoff).await?;
            for (op, status) in run.iter_mut().zip(statuses) {
                if let Op::Finish(p) = op {
                    p.set(Ok(status));
                }
            }
        }
        Op::SaveFile(_) => {
            let files: Vec<(Lease, &NewFile)> = (run.iter())
                .filter_map(|op| match op {
                    Op::SaveFile(p) => Some((p.args.0, &p.args.1)),
                    _ => None,
                })
                .collect();
            let saved = D::save_files(conn, &files).await?;
            for op in run.iter_mut() {
                if let Op::SaveFile(p) = op {
                    let done = saved.contains(&(p.args.0.id, p.args.1.index));
                    p.set(Ok(done));
                }
            }
        }
        _ => {
            for op in run.iter_mut() {
                execute_one::<D>(conn, op, effects, backoff).await?;
            }
        }
    }
    Ok(n)
}

/// Records the ends of runs: the status each left its job in, `None` where its lease was stale.
/// Of two ends under one lease (two answers of a worker racing), the first is written and the
/// others are stale: a statement updating one row from two would write either.
async fn finish<D: Sql>(
    conn: &mut Conn<D>,
    ends: &[&RunEnd],
    effects: &mut Effects,
    backoff: Backoff,
) -> Result<Vec<Option<JobStatus>>> {
    let mut leases = HashSet::new();
    let distinct: Vec<&RunEnd> = (ends.iter().copied())
        .filter(|end| leases.insert(end.lease))
        .collect();
    let applied = ends::finish::<D>(conn, &distinct, backoff, effects).await?;
    for end in distinct.iter().filter(|e| applied.contains_key(&e.lease)) {
        ended(end, effects);
    }
    let mut answered = HashSet::new();
    Ok((ends.iter())
        .map(|end| (applied.get(&end.lease).copied()).filter(|_| answered.insert(end.lease)))
        .collect())
}

/// Executes one write that is not batched with its neighbours.
async fn execute_one<D: Sql>(
    conn: &mut Conn<D>,
    op: &mut Op,
    effects: &mut Effects,
    backoff: Backoff,
) -> Result<()> {
    match op {
        Op::Claim(p) => {
            let a = &p.args;
            let rooms = with_room::<D>(conn, a).await?;
            let kinds: Vec<(JobKind, usize)> = (rooms.iter())
                .filter(|r| r.room > 0)
                .map(|r| (r.kind, r.room))
                .collect();
            let claimed = match kinds.is_empty() {
                true => Vec::new(),
                false => D::claim(conn, &kinds, a.n, &a.owner, a.lease, now()).await?,
            };
            // The dispatcher claims for one class, every kind of it this process runs.
            if claimed.len() < a.n && !cut_by_limit::<D>(conn, &rooms, &claimed).await? {
                effects.drained.push(a.class);
            }
            let started = claimed.iter().map(|c| Change {
                job: Arc::clone(&c.job),
                cause: Cause::Claimed,
            });
            effects.changes.extend(started);
            p.set(Ok(claimed));
        }
        Op::Heartbeat(p) => {
            let a = &p.args;
            let state = D::heartbeat(conn, a.lease, a.progress, a.lease_for, now()).await?;
            p.set(Ok(state));
        }
        Op::Cancel(p) => p.set(Ok(Box::new(cancel::<D>(conn, p.args, effects).await?))),
        Op::Delete(p) => p.set(Ok(delete::<D>(conn, p.args, effects).await?)),
        Op::Recover(p) => {
            p.set(Ok(ends::recover::<D>(
                conn,
                now(),
                &p.args,
                backoff,
                effects,
            )
            .await?));
        }
        Op::ClearFiles(p) => p.set(Ok(D::clear_files(conn, p.args).await?)),
        Op::FinishMany(p) => {
            let ends: Vec<&RunEnd> = p.args.iter().collect();
            let statuses = finish::<D>(conn, &ends, effects, backoff).await?;
            p.set(Ok(statuses));
        }
        Op::Prune(p) => p.set(Ok(D::prune(conn, now(), &p.args).await?)),
        Op::Ping(p) => {
            D::ping(conn).await?;
            p.set(Ok(()));
        }
        Op::InsertMany(p) => {
            let jobs: Vec<&ToInsert> = p.args.iter().collect();
            let inserted = insert::<D>(conn, &jobs, effects).await?;
            effects.changes.reserve(inserted.len());
            let stored = (p.args.iter_mut().zip(inserted))
                .map(|(insert, result)| result.map(|how| stored(insert, how, effects)))
                .collect();
            p.set(Ok(stored));
        }
        // One of a run: `execute_run` does these.
        Op::Insert(_) | Op::Finish(_) | Op::SaveFile(_) => {}
    }
    Ok(())
}

/// The kinds of claim `a` with how many jobs of each it may take: `a.n`, or for a kind with a
/// concurrency limit the room left under it (its running jobs counted once the claims of
/// every process for it are serialised, so two cannot both see the same room); a kind
/// without room is left out. The limited kinds are locked in name order, so that two
/// claims of several never wait for each other in a cycle.
async fn with_room<D: Sql>(conn: &mut Conn<D>, a: &super::ClaimArgs) -> Result<Vec<Room>> {
    let room_of = |kind| Room {
        kind,
        room: a.n,
        limited: false,
    };
    if a.limits.is_empty() {
        return Ok(a.kinds.iter().copied().map(room_of).collect());
    }
    let mut kinds: Vec<JobKind> = a.kinds.clone();
    kinds.sort_by_key(|k| k.as_str());
    kinds.dedup();
    let mut rooms = Vec::with_capacity(kinds.len());
    for kind in kinds {
        let Some(&max) = a.limits.get(&kind) else {
            rooms.push(room_of(kind));
            continue;
        };
        D::lock_kind(conn, kind).await?;
        let running = D::count_running(conn, kind).await?;
        let room = max.saturating_sub(running).min(a.n);
        rooms.push(Room {
            kind,
            room,
            limited: room < a.n,
        });
    }
    Ok(rooms)
}

/// How many jobs of a kind a claim may take, and whether its limit set that below the claim's.
struct Room {
    kind: JobKind,
    room: usize,
    limited: bool,
}

/// Whether a claim that came back short was cut by a kind's limit while more of that kind
/// waited (then its class is not drained: the next freed slot must look again). A limit that
/// left room for more than were queued cut nothing.
async fn cut_by_limit<D: Sql>(
    conn: &mut Conn<D>,
    rooms: &[Room],
    claimed: &[crate::store::Claimed],
) -> Result<bool> {
    for room in rooms.iter().filter(|r| r.limited) {
        let took = claimed.iter().filter(|c| c.job.kind == room.kind).count();
        if room.room > 0 && took == room.room {
            return Ok(true);
        }
        if room.room == 0 && D::claimable_queued(conn, &[room.kind], now()).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Cancels job `id`: a queued one at once (its dependents released), a running one by asking
/// its runner to stop (see [`Effects::cancels`]).
async fn cancel<D: Sql>(
    conn: &mut Conn<D>,
    id: JobId,
    effects: &mut Effects,
) -> Result<CancelResult> {
    let now = now();
    if let Some(job) = D::cancel_queued(conn, id, now).await? {
        deps::forget_waits::<D>(conn, &[id]).await?;
        deps::release::<D>(conn, vec![(id, JobStatus::Cancelled)], now, effects).await?;
        let cause = Cause::Cancelled;
        let change = Arc::new(job.clone());
        effects.changes.push(Change { job: change, cause });
        return Ok(CancelResult::Cancelled(job));
    }
    if let Some(job) = D::request_cancel(conn, id).await? {
        return Ok(CancelResult::Requested(job));
    }
    Ok(match D::read_jobs(conn, &[id]).await?.pop() {
        Some(job) => CancelResult::AlreadyFinal(job),
        None => CancelResult::NotFound,
    })
}

/// Deletes job `id` if it is final.
async fn delete<D: Sql>(
    conn: &mut Conn<D>,
    id: JobId,
    effects: &mut Effects,
) -> Result<DeleteResult> {
    if let Some(deleted) = D::delete_final(conn, id).await? {
        effects.deleted.push(deleted);
        return Ok(DeleteResult::Deleted);
    }
    Ok(match D::read_jobs(conn, &[id]).await?.pop() {
        Some(job) => DeleteResult::NotFinal(job.status),
        None => DeleteResult::NotFound,
    })
}

/// Adds to `effects` what the answers of `ops` say for other processes: jobs made final or
/// claimable, cancels of running jobs.
pub(super) fn observe(ops: &[Op], effects: &mut Effects) {
    let inserted = |job: &Job, effects: &mut Effects| match job.status {
        JobStatus::Queued => effects.queued = true,
        status if status.is_final() => effects.finals.push(job.id),
        _ => {}
    };
    for op in ops {
        match op {
            Op::Insert(p) => {
                if let Some(Ok(job)) = p.done() {
                    inserted(job, effects);
                }
            }
            Op::InsertMany(p) => {
                if let Some(Ok(results)) = p.done() {
                    results
                        .iter()
                        .flatten()
                        .for_each(|job| inserted(job, effects));
                }
            }
            Op::Finish(p) if matches!(p.done(), Some(Ok(Some(_)))) => {
                ended_elsewhere(&p.args, effects)
            }
            Op::FinishMany(p) => {
                if let Some(Ok(statuses)) = p.done() {
                    for (end, _) in (p.args.iter().zip(statuses)).filter(|(_, s)| s.is_some()) {
                        ended_elsewhere(end, effects);
                    }
                }
            }
            Op::Cancel(p) => match p.done().map(|r| r.as_deref()) {
                Some(Ok(CancelResult::Cancelled(_))) => effects.finals.push(p.args),
                Some(Ok(CancelResult::Requested(_))) => effects.cancels.push(p.args),
                _ => {}
            },
            Op::Recover(p)
                if p.done()
                    .is_some_and(|r| r.as_ref().is_ok_and(|r| r.requeued > 0)) =>
            {
                effects.queued = true;
            }
            _ => {}
        }
    }
    effects.finals.extend_from_slice(&effects.released);
}

/// What a recorded end tells other processes: a hand-back or a retry queues the job again (or
/// ends it: a cancel pending, no attempts left).
fn ended_elsewhere(end: &RunEnd, effects: &mut Effects) {
    effects.queued |= matches!(end.outcome, Outcome::Requeue | Outcome::Retry(_));
    effects.finals.push(end.lease.id);
}

/// Reads back, before the commit, the jobs whose new state only the database decided (see
/// [`Effects::reread`]; jobs settled as a side effect, in `effects.released` and
/// `effects.requeued`, too) and adds them to the changes.
pub(super) async fn reread<D: Sql>(conn: &mut Conn<D>, effects: &mut Effects) -> Result<()> {
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
            let job = Arc::new(job);
            effects.changes.push(Change { job, cause });
        }
    }
    Ok(())
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
    match &end.ended {
        Some(job) => effects.changes.push(Change {
            job: Arc::clone(job),
            cause,
        }),
        None => effects.reread.push((end.lease.id, cause)),
    }
}
