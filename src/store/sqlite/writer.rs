//! The single writer of a SQLite database, with group commit.
//!
//! Every write goes through one task that owns the one write connection. It takes whatever
//! writes are waiting (up to [`MAX_BATCH`]), runs them in one transaction, commits once, and
//! only then answers each caller: a submission is acknowledged only once it is durable, yet
//! under load one `fsync` covers many writes. Consecutive inserts, and consecutive finishes,
//! become one multi-row statement.
//!
//! A batch is all or nothing. If any write in it fails (or the commit does), the transaction
//! is rolled back and every write of the batch runs again alone, in its own transaction, so
//! that a failure reaches only the caller whose write failed and nothing half-done is kept.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Executor, SqliteConnection};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::queries::{self, DepState, Effects, Insert, RunEnd};
use crate::job::{JobId, JobKind, JobProgress};
use crate::store::{
    CancelResult, Claimed, DeleteResult, Inserted, Lease, LeaseState, NewFile, NewJob, Recovered,
    Result, StoreError, now,
};

/// Most writes in one transaction.
const MAX_BATCH: usize = 512;

type Reply<T> = oneshot::Sender<Result<T>>;

/// A write to apply, with where to send its result.
pub(super) enum Op {
    Insert(NewJob, Reply<Inserted>),
    Claim {
        kinds: Vec<JobKind>,
        n: usize,
        owner: String,
        lease: Duration,
        reply: Reply<Vec<Claimed>>,
    },
    Heartbeat {
        lease: Lease,
        progress: Option<JobProgress>,
        lease_for: Duration,
        reply: Reply<LeaseState>,
    },
    Finish {
        end: RunEnd,
        reply: Reply<bool>,
    },
    Cancel(JobId, Reply<CancelResult>),
    Delete(JobId, Reply<DeleteResult>),
    /// Settles interrupted runs: all of them, or those whose lease expired before a time.
    Recover(
        Option<(chrono::DateTime<chrono::Utc>, Vec<JobId>)>,
        Reply<Recovered>,
    ),
    SaveFile {
        lease: Lease,
        file: NewFile,
        reply: Reply<bool>,
    },
    ClearFiles(Lease, Reply<bool>),
    /// Proves the writer task is alive and its connection answers.
    Ping(Reply<()>),
}

/// The result of one write, held until its transaction commits.
enum Done {
    Unit,
    /// An insert, or why this one job was refused (the batch goes on).
    Inserted(Result<Inserted>),
    Claimed(Vec<Claimed>),
    Lease(LeaseState),
    Applied(bool),
    Cancel(Box<CancelResult>),
    Delete(DeleteResult),
    Recovered(Recovered),
}

/// Handle to the writer task.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    ops: mpsc::Sender<Op>,
    side_finals: broadcast::Sender<JobId>,
}

impl Writer {
    /// Starts the writer task on `conn`.
    pub(super) fn start(conn: SqliteConnection) -> Self {
        let (ops, rx) = mpsc::channel(4 * MAX_BATCH);
        let (side_finals, _) = broadcast::channel(4096);
        tokio::spawn(run(conn, rx, side_finals.clone()));
        Self { ops, side_finals }
    }

    /// Jobs made final as a side effect of a committed write (see `JobStore::side_finals`).
    pub(super) fn side_finals(&self) -> broadcast::Receiver<JobId> {
        self.side_finals.subscribe()
    }

    /// Sends a write built by `op` and waits for its committed result.
    pub(super) async fn apply<T>(&self, op: impl FnOnce(Reply<T>) -> Op) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.ops
            .send(op(reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }
}

async fn run(
    mut conn: SqliteConnection,
    mut rx: mpsc::Receiver<Op>,
    side_finals: broadcast::Sender<JobId>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Whether `job_waits` may have rows (see `Effects::waits`); unknown at start.
    let mut waits = true;
    let publish = |released: Vec<JobId>| {
        for id in released {
            let _ = side_finals.send(id);
        }
    };
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let ops = std::mem::take(&mut batch);
        match transaction(&mut conn, &ops, &mut waits).await {
            Ok((done, released)) => {
                ops.into_iter()
                    .zip(done)
                    .for_each(|(op, d)| deliver(op, Ok(d)));
                publish(released);
            }
            // Not any one write's fault (the lock, the disk): every write gets the error.
            Err(Failure::Transaction(err)) => {
                tracing::error!(error = ?err, writes = ops.len(), "a batch of writes failed");
                for op in ops {
                    deliver(op, Err(StoreError::Write(Arc::clone(&err))));
                }
            }
            Err(Failure::Write(err)) if ops.len() == 1 => {
                if let Some(op) = ops.into_iter().next() {
                    deliver(op, Err(err));
                }
            }
            Err(Failure::Write(err)) => {
                tracing::warn!(error = ?err, writes = ops.len(), "a write failed; retrying the batch's writes one by one");
                for op in ops {
                    let one = std::slice::from_ref(&op);
                    let done = match transaction(&mut conn, one, &mut waits).await {
                        Ok((mut done, released)) => {
                            publish(released);
                            Ok(done.remove(0))
                        }
                        Err(Failure::Write(err)) => Err(err),
                        Err(Failure::Transaction(err)) => Err(StoreError::Write(err)),
                    };
                    deliver(op, done);
                }
            }
        }
    }
}

/// Why a transaction failed: one of its writes, or the transaction itself.
enum Failure {
    Write(StoreError),
    Transaction(Arc<sqlx::Error>),
}

/// Runs `ops` in one transaction: their results once committed, with the jobs they made final
/// as a side effect, or the failure (after a rollback: nothing of `ops` is kept). `waits` is
/// what the writer knows of `job_waits` (see `Effects::waits`), updated once committed.
async fn transaction(
    conn: &mut SqliteConnection,
    ops: &[Op],
    waits: &mut bool,
) -> Result<(Vec<Done>, Vec<JobId>), Failure> {
    let mut effects = Effects {
        released: Vec::new(),
        waits: *waits,
    };
    // Until this transaction commits, assume nothing about `job_waits` (a rollback may bring
    // back rows it deleted).
    *waits = true;
    if conn.execute("BEGIN IMMEDIATE").await.is_err() {
        // A transaction left open by a failed rollback would block every later write: close
        // it and try once more.
        let _ = conn.execute("ROLLBACK").await;
        conn.execute("BEGIN IMMEDIATE")
            .await
            .map_err(|e| Failure::Transaction(Arc::new(e)))?;
    }
    let done = match execute(conn, ops, &mut effects).await {
        Ok(done) => done,
        Err(err) => {
            // Harmless if SQLite already rolled back by itself (I/O errors, a full disk).
            let _ = conn.execute("ROLLBACK").await;
            return Err(Failure::Write(err));
        }
    };
    if let Err(err) = conn.execute("COMMIT").await {
        let _ = conn.execute("ROLLBACK").await;
        return Err(Failure::Transaction(Arc::new(err)));
    }
    *waits = effects.waits;
    Ok((done, effects.released))
}

/// Executes `ops` in order inside the open transaction, one result per op.
async fn execute(
    conn: &mut SqliteConnection,
    ops: &[Op],
    effects: &mut Effects,
) -> Result<Vec<Done>> {
    let mut done = Vec::with_capacity(ops.len());
    while done.len() < ops.len() {
        let results = execute_run(conn, &ops[done.len()..], effects).await?;
        done.extend(results);
    }
    Ok(done)
}

/// Executes the writes at the head of `ops`: a run of consecutive inserts, finishes or saved
/// files as one multi-row statement, anything else alone. One result per write executed.
async fn execute_run(
    conn: &mut SqliteConnection,
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
                    Op::Insert(job, _) => Some(job),
                    _ => None,
                })
                .collect();
            if jobs.iter().any(|job| !job.depends_on.is_empty()) {
                effects.waits = true;
            }
            insert(conn, &jobs).await?
        }
        Op::Finish { .. } => {
            let ends: Vec<&RunEnd> = run
                .filter_map(|op| match op {
                    Op::Finish { end, .. } => Some(end),
                    _ => None,
                })
                .collect();
            let applied = queries::finish_many(conn, &ends, effects).await?;
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
            let saved = queries::files::save_many(conn, &files).await?;
            let saved = |(lease, file): &(Lease, &NewFile)| {
                Done::Applied(saved.contains(&(lease.id, file.index)))
            };
            files.iter().map(saved).collect()
        }
        op => vec![execute_one(conn, op, effects).await?],
    })
}

/// Executes one write that is not batched with its neighbours.
async fn execute_one(conn: &mut SqliteConnection, op: &Op, effects: &mut Effects) -> Result<Done> {
    Ok(match op {
        Op::Claim {
            kinds,
            n,
            owner,
            lease,
            ..
        } => Done::Claimed(queries::claim(conn, kinds, *n, owner, *lease, now()).await?),
        Op::Heartbeat {
            lease,
            progress,
            lease_for,
            ..
        } => Done::Lease(queries::heartbeat(conn, *lease, *progress, *lease_for, now()).await?),
        Op::Cancel(id, _) => {
            Done::Cancel(Box::new(queries::cancel(conn, *id, now(), effects).await?))
        }
        Op::Delete(id, _) => Done::Delete(queries::delete(conn, *id).await?),
        Op::Recover(expired, _) => {
            Done::Recovered(queries::recover(conn, now(), expired.as_ref(), effects).await?)
        }
        Op::ClearFiles(lease, _) => Done::Applied(queries::files::clear(conn, *lease).await?),
        Op::Ping(_) => {
            conn.execute("SELECT 1").await?;
            Done::Unit
        }
        // `execute_run` takes these, in runs; never here.
        Op::Insert(..) | Op::Finish { .. } | Op::SaveFile { .. } => {
            return Err(StoreError::Corrupt(
                "a batched write was executed alone".into(),
            ));
        }
    })
}

/// Inserts consecutive new jobs: those without dependencies, or whose dependencies exist, in
/// one statement; a job naming an unknown dependency is refused alone.
async fn insert(conn: &mut SqliteConnection, jobs: &[&NewJob]) -> Result<Vec<Done>> {
    let mut starts = Vec::with_capacity(jobs.len());
    let mut waits = Vec::new();
    for &job in jobs {
        if job.depends_on.is_empty() {
            starts.push(Ok((0, None)));
            continue;
        }
        starts.push(match queries::check_deps(conn, &job.depends_on).await {
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
    let rows: Vec<Insert> = jobs
        .iter()
        .zip(&starts)
        .filter_map(|(&job, start)| {
            let (waiting, failed) = start.as_ref().ok()?;
            Some(Insert {
                job,
                waiting: *waiting,
                failed: failed.clone(),
            })
        })
        .collect();
    queries::insert_many(conn, &rows).await?;
    for (job, deps) in waits {
        queries::add_waits(conn, job, &deps).await?;
    }
    Ok(starts
        .into_iter()
        .map(|start| {
            Done::Inserted(start.map(|(_, failed)| match failed {
                Some(error) => Inserted::Failed(error),
                None => Inserted::Queued,
            }))
        })
        .collect())
}

/// Sends a write's result to its caller (who may have gone away: nothing to do then).
fn deliver(op: Op, done: Result<Done>) {
    fn send<T>(reply: Reply<T>, result: Result<T>) {
        let _ = reply.send(result);
    }
    match (op, done) {
        (Op::Ping(r), Ok(Done::Unit)) => send(r, Ok(())),
        (Op::Insert(_, r), Ok(Done::Inserted(i))) => send(r, i),
        (Op::SaveFile { reply, .. } | Op::ClearFiles(_, reply), Ok(Done::Applied(a))) => {
            send(reply, Ok(a))
        }
        (Op::Claim { reply, .. }, Ok(Done::Claimed(c))) => send(reply, Ok(c)),
        (Op::Heartbeat { reply, .. }, Ok(Done::Lease(l))) => send(reply, Ok(l)),
        (Op::Finish { reply, .. }, Ok(Done::Applied(a))) => send(reply, Ok(a)),
        (Op::Cancel(_, r), Ok(Done::Cancel(c))) => send(r, Ok(*c)),
        (Op::Delete(_, r), Ok(Done::Delete(d))) => send(r, Ok(d)),
        (Op::Recover(_, r), Ok(Done::Recovered(x))) => send(r, Ok(x)),
        (op, result) => {
            let err = match result {
                Err(err) => err,
                // `execute` yields one matching result per op; a mismatch is a bug here.
                Ok(_) => StoreError::Corrupt("writer result does not match its write".into()),
            };
            match op {
                Op::Ping(r) => send(r, Err(err)),
                Op::Insert(_, r) => send(r, Err(err)),
                Op::SaveFile { reply, .. } | Op::ClearFiles(_, reply) => send(reply, Err(err)),
                Op::Claim { reply, .. } => send(reply, Err(err)),
                Op::Heartbeat { reply, .. } => send(reply, Err(err)),
                Op::Finish { reply, .. } => send(reply, Err(err)),
                Op::Cancel(_, r) => send(r, Err(err)),
                Op::Delete(_, r) => send(r, Err(err)),
                Op::Recover(_, r) => send(r, Err(err)),
            }
        }
    }
}
