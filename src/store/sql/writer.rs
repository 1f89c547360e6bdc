//! The single writer of a process, with group commit.
//!
//! Every write goes through one task. It takes whatever
//! writes are waiting (up to [`MAX_BATCH`]), runs them in one transaction, commits once, and
//! only then answers each caller: a submission is acknowledged only once it is durable, yet
//! under load one `fsync` covers many writes. Consecutive inserts, and consecutive finishes,
//! become one multi-row statement.
//!
//! A batch is all or nothing. If any write in it fails (or the commit does), the transaction
//! is rolled back and every write of the batch runs again alone, in its own transaction, so
//! that a failure reaches only the caller whose write failed and nothing half-done is kept.
//! A batch that failed for a reason the database calls transient (a deadlock between
//! processes sharing it) is first run again whole.
//!
//! SQLite allows one writer at a time: its pool holds one connection. PostgreSQL takes a
//! connection from its pool for each batch, so a connection lost with the server is replaced
//! by the next batch.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Pool;
use sqlx::pool::PoolConnection;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::execute::{execute, observe, reread};
use super::watch::QueueWatch;
use super::{Dialect, Effects, Interrupted, RunEnd};
use crate::job::{Backoff, Job, JobClass, JobId, JobKind, JobProgress};
use crate::store::commit::Committed;
use crate::store::{
    CancelResult, Claimed, DeleteResult, Lease, LeaseState, NewFile, NewJob, Recovered, Result,
    Retention, StoreError,
};

/// Most writes in one transaction.
const MAX_BATCH: usize = 512;

/// How many times a batch that failed for a transient reason is run again whole.
const RETRIES: u32 = 3;

pub(super) type Reply<T> = oneshot::Sender<Result<T>>;

/// A write to apply, with where to send its result.
pub(super) enum Op {
    Insert(Box<NewJob>, Reply<Job>),
    /// Several inserts that must share one transaction, with a result each.
    InsertMany(Vec<NewJob>, Reply<Vec<Result<Job>>>),
    Claim {
        class: JobClass,
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
        end: Box<RunEnd>,
        reply: Reply<bool>,
    },
    Cancel(JobId, Reply<CancelResult>),
    Delete(JobId, Reply<DeleteResult>),
    /// Settles interrupted runs.
    Recover(Interrupted, Backoff, Reply<Recovered>),
    SaveFile {
        lease: Lease,
        file: NewFile,
        reply: Reply<bool>,
    },
    ClearFiles(Lease, Reply<bool>),
    /// Deletes expired final jobs.
    Prune(Retention, Reply<u64>),
    /// Proves the writer task is alive and its connection answers.
    Ping(Reply<()>),
}

/// The result of one write, held until its transaction commits.
pub(super) enum Done {
    Unit,
    /// An insert, or why this one job was refused (the batch goes on).
    Inserted(Box<Result<Job>>),
    InsertedMany(Vec<Result<Job>>),
    Claimed(Vec<Claimed>),
    Lease(LeaseState),
    Applied(bool),
    Cancel(Box<CancelResult>),
    Delete(DeleteResult),
    Recovered(Recovered),
    Count(u64),
}

/// Handle to the writer task.
pub(super) struct Writer<D> {
    ops: mpsc::Sender<Op>,
    _dialect: std::marker::PhantomData<fn() -> D>,
}

impl<D: Dialect> Writer<D> {
    /// Starts the writer task, writing on `pool` and publishing on `commits` what each
    /// transaction did (see `JobStore::commits`).
    pub(super) fn start(
        dialect: Arc<D>,
        pool: Pool<D::Db>,
        commits: broadcast::Sender<Arc<Committed>>,
        queue: Arc<QueueWatch>,
    ) -> Self {
        let (ops, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(dialect, pool, rx, commits, queue));
        Self {
            ops,
            _dialect: std::marker::PhantomData,
        }
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

async fn run<D: Dialect>(
    dialect: Arc<D>,
    pool: Pool<D::Db>,
    mut rx: mpsc::Receiver<Op>,
    commits: broadcast::Sender<Arc<Committed>>,
    queue: Arc<QueueWatch>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Whether `job_waits` may have rows (see `Effects::waits`); unknown at start.
    let mut waits = true;
    // Before the answers: whoever is answered finds the observers told.
    let publish = |committed: Committed| {
        if !committed.is_empty() {
            let _ = commits.send(Arc::new(committed));
        }
    };
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let ops = std::mem::take(&mut batch);
        let mut result = transaction(&*dialect, &pool, &ops, &mut waits, &queue).await;
        for _ in 0..RETRIES {
            if !result.as_ref().is_err_and(transient::<D>) {
                break;
            }
            tracing::debug!("a batch of writes failed for a transient reason; running it again");
            result = transaction(&*dialect, &pool, &ops, &mut waits, &queue).await;
        }
        match result {
            Ok((done, committed)) => {
                publish(committed);
                ops.into_iter()
                    .zip(done)
                    .for_each(|(op, d)| deliver(op, Ok(d)));
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
                    let done = match transaction(&*dialect, &pool, one, &mut waits, &queue).await {
                        Ok((mut done, committed)) => {
                            publish(committed);
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

/// Whether running the transaction again may well succeed.
fn transient<D: Dialect>(failure: &Failure) -> bool {
    match failure {
        Failure::Write(StoreError::Database(err)) => D::retryable(err),
        Failure::Write(StoreError::Write(err)) | Failure::Transaction(err) => D::retryable(err),
        Failure::Write(_) => false,
    }
}

/// Runs `ops` in one transaction: their results once committed, with what the transaction did
/// to jobs, or the failure (after a rollback: nothing of `ops` is kept). `waits` is what the
/// writer knows of `job_waits` (see `Effects::waits`), updated once committed, as `queue` is.
async fn transaction<D: Dialect>(
    dialect: &D,
    pool: &Pool<D::Db>,
    ops: &[Op],
    waits: &mut bool,
    queue: &QueueWatch,
) -> Result<(Vec<Done>, Committed), Failure> {
    let begun = queue.snapshot();
    let mut effects = Effects::new(*waits || D::SHARED, begun);
    // Until this transaction commits, assume nothing about `job_waits` (a rollback may bring
    // back rows it deleted).
    *waits = true;
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| Failure::Transaction(Arc::new(e)))?;
    let durable = ops
        .iter()
        .any(|op| !matches!(op, Op::Claim { .. } | Op::Heartbeat { .. }));
    if let Err(err) = dialect.begin(&mut conn, durable).await {
        // Whatever state it is in, this connection is not to be used again.
        conn.close_on_drop();
        return Err(Failure::Transaction(Arc::new(err)));
    }
    let done = match execute::<D>(&mut conn, ops, &mut effects).await {
        Ok(done) => done,
        Err(err) => {
            rollback::<D>(conn).await;
            return Err(Failure::Write(err));
        }
    };
    observe(ops, &done, &mut effects);
    if let Err(err) = reread::<D>(&mut conn, &mut effects).await {
        rollback::<D>(conn).await;
        return Err(Failure::Write(err));
    }
    if let Err(err) = dialect.commit(&mut conn, &effects).await {
        rollback::<D>(conn).await;
        return Err(Failure::Transaction(Arc::new(err)));
    }
    *waits = effects.waits;
    queue.committed(begun, &effects.drained, effects.queued);
    let committed = Committed {
        changes: effects.changes,
        deleted: effects.deleted,
        cancels: effects.cancels,
        released: effects.queued,
    };
    Ok((done, committed))
}

/// Rolls back the open transaction of `conn` (harmless if the database already did: I/O
/// errors, a full disk); a connection that cannot is closed rather than reused.
async fn rollback<D: Dialect>(mut conn: PoolConnection<D::Db>) {
    if D::rollback(&mut conn).await.is_err() {
        conn.close_on_drop();
    }
}

/// Sends a write's result to its caller (who may have gone away: nothing to do then).
fn deliver(op: Op, done: Result<Done>) {
    fn send<T>(reply: Reply<T>, result: Result<T>) {
        let _ = reply.send(result);
    }
    match (op, done) {
        (Op::Ping(r), Ok(Done::Unit)) => send(r, Ok(())),
        (Op::Prune(_, r), Ok(Done::Count(n))) => send(r, Ok(n)),
        (Op::Insert(_, r), Ok(Done::Inserted(i))) => send(r, *i),
        (Op::InsertMany(_, r), Ok(Done::InsertedMany(i))) => send(r, Ok(i)),
        (Op::SaveFile { reply, .. } | Op::ClearFiles(_, reply), Ok(Done::Applied(a))) => {
            send(reply, Ok(a))
        }
        (Op::Claim { reply, .. }, Ok(Done::Claimed(c))) => send(reply, Ok(c)),
        (Op::Heartbeat { reply, .. }, Ok(Done::Lease(l))) => send(reply, Ok(l)),
        (Op::Finish { reply, .. }, Ok(Done::Applied(a))) => send(reply, Ok(a)),
        (Op::Cancel(_, r), Ok(Done::Cancel(c))) => send(r, Ok(*c)),
        (Op::Delete(_, r), Ok(Done::Delete(d))) => send(r, Ok(d)),
        (Op::Recover(_, _, r), Ok(Done::Recovered(x))) => send(r, Ok(x)),
        (op, result) => {
            let err = match result {
                Err(err) => err,
                // `execute` yields one matching result per op; a mismatch is a bug here.
                Ok(_) => StoreError::Corrupt("writer result does not match its write".into()),
            };
            match op {
                Op::Ping(r) => send(r, Err(err)),
                Op::Prune(_, r) => send(r, Err(err)),
                Op::Insert(_, r) => send(r, Err(err)),
                Op::InsertMany(_, r) => send(r, Err(err)),
                Op::SaveFile { reply, .. } | Op::ClearFiles(_, reply) => send(reply, Err(err)),
                Op::Claim { reply, .. } => send(reply, Err(err)),
                Op::Heartbeat { reply, .. } => send(reply, Err(err)),
                Op::Finish { reply, .. } => send(reply, Err(err)),
                Op::Cancel(_, r) => send(r, Err(err)),
                Op::Delete(_, r) => send(r, Err(err)),
                Op::Recover(_, _, r) => send(r, Err(err)),
            }
        }
    }
}
