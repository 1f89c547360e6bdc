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
//! A write that fails for lack of space fails its whole batch at once, as no other write of
//! it could take its place; the store is then *full* (`store::room`) and, between batches,
//! the writer probes every second for space until a probe commits.
//!
//! SQLite allows one writer at a time: its pool holds one connection. PostgreSQL takes a
//! connection from its pool for each batch, so a connection lost with the server is replaced
//! by the next batch.

use std::sync::Arc;

use sqlx::Pool;
use sqlx::pool::PoolConnection;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

use super::execute::{execute, observe, reread};
use super::ops::{Op, Pending};
use super::watch::QueueWatch;
use super::{Dialect, Effects, Sql};
use crate::job::Backoff;
use crate::store::commit::Committed;
use crate::store::room::{MIN_FREE, PROBE_BYTES, PROBE_EVERY, Room};
use crate::store::{Result, StoreError};

/// Most writes in one transaction.
const MAX_BATCH: usize = 512;

/// How many times a batch that failed for a transient reason is run again whole.
const RETRIES: u32 = 3;

/// Handle to the writer task.
pub(crate) struct Writer {
    ops: mpsc::Sender<Op>,
}

impl Writer {
    /// Starts the writer task, writing on `pool` and publishing on `commits` what each
    /// transaction did (see `JobStore::commits`).
    pub(crate) fn start<D: Sql>(
        dialect: D,
        pool: Pool<D::Db>,
        commits: broadcast::Sender<Arc<Committed>>,
        queue: Arc<QueueWatch>,
        room: Arc<Room>,
        backoff: Backoff,
    ) -> Self {
        let (ops, rx) = mpsc::channel(4 * MAX_BATCH);
        let task = Task {
            dialect,
            pool,
            // Unknown at start.
            waits: true,
            queue,
            room,
            next_probe: Instant::now(),
            backoff,
        };
        tokio::spawn(run(task, rx, commits));
        Self { ops }
    }

    /// Sends the write `op` with `args` (e.g. `apply(Op::Cancel, id)`) and waits for its
    /// answer, once its transaction committed.
    pub(crate) async fn apply<A, T>(&self, op: fn(Pending<A, T>) -> Op, args: A) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.ops
            .send(op(Pending::new(args, reply)))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }
}

/// What the writer task keeps between transactions.
struct Task<D: Sql> {
    dialect: D,
    pool: Pool<D::Db>,
    /// Whether `job_waits` may have rows (see `Effects::waits`).
    waits: bool,
    queue: Arc<QueueWatch>,
    /// Whether the database has room to write.
    room: Arc<Room>,
    /// While it has none, when to try again.
    next_probe: Instant,
    /// When retries run.
    backoff: Backoff,
}

async fn run<D: Sql>(
    mut task: Task<D>,
    mut rx: mpsc::Receiver<Op>,
    commits: broadcast::Sender<Arc<Committed>>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Before the answers: whoever is answered finds the observers told.
    let publish = |committed: Committed| {
        if !committed.is_empty() {
            let _ = commits.send(Arc::new(committed));
        }
    };
    loop {
        let received = if task.room.is_full() {
            tokio::select! {
                received = rx.recv_many(&mut batch, MAX_BATCH) => received,
                () = tokio::time::sleep_until(task.next_probe) => {
                    task.probe().await;
                    continue;
                }
            }
        } else {
            rx.recv_many(&mut batch, MAX_BATCH).await
        };
        if received == 0 {
            break;
        }
        let mut ops = std::mem::take(&mut batch);
        let mut result = task.transaction(&mut ops).await;
        for _ in 0..RETRIES {
            if !result.as_ref().is_err_and(transient::<D>) {
                break;
            }
            tracing::debug!("a batch of writes failed for a transient reason; running it again");
            result = task.transaction(&mut ops).await;
        }
        match result.map_err(Failure::widened) {
            Ok(committed) => {
                publish(committed);
                ops.into_iter().for_each(Op::deliver);
            }
            // Not any one write's fault (the lock, the disk): every write gets the error.
            Err(Failure::Transaction(err)) => task.fail_all(ops, err),
            Err(Failure::Write(err)) if ops.len() == 1 => {
                if let Some(op) = ops.into_iter().next() {
                    op.fail(err);
                }
            }
            Err(Failure::Write(err)) => {
                tracing::warn!(error = ?err, writes = ops.len(), "a write failed; retrying the batch's writes one by one");
                for op in ops {
                    let mut one = [op];
                    let result = task.transaction(&mut one).await;
                    let [op] = one;
                    match result {
                        Ok(committed) => {
                            publish(committed);
                            op.deliver();
                        }
                        Err(Failure::Write(err)) => {
                            task.refused(&err, 1);
                            op.fail(err);
                        }
                        Err(Failure::Transaction(err)) => {
                            let err = StoreError::Write(err);
                            task.refused(&err, 1);
                            op.fail(err);
                        }
                    }
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

impl Failure {
    /// A write that failed for lack of space fails its whole transaction: no other write of
    /// it would find room either.
    fn widened(self) -> Self {
        match self {
            Failure::Write(err) if err.is_storage_full() => match err.into_shared() {
                Ok(err) => Failure::Transaction(err),
                Err(err) => Failure::Write(err),
            },
            other => other,
        }
    }
}

/// Whether running the transaction again may well succeed.
fn transient<D: Dialect>(failure: &Failure) -> bool {
    match failure {
        Failure::Write(StoreError::Database(err)) => D::retryable(err),
        Failure::Write(StoreError::Write(err)) | Failure::Transaction(err) => D::retryable(err),
        Failure::Write(_) => false,
    }
}

impl<D: Sql> Task<D> {
    /// Fails every write of `ops` with `err`, which none of them caused.
    fn fail_all(&mut self, ops: Vec<Op>, err: Arc<sqlx::Error>) {
        let shared = StoreError::Write(Arc::clone(&err));
        // A full disk is logged once, by the room, not once per batch.
        if !self.refused(&shared, ops.len()) {
            tracing::error!(error = ?shared, writes = ops.len(), "a batch of writes failed");
        }
        for op in ops {
            op.fail(StoreError::Write(Arc::clone(&err)));
        }
    }

    /// Tells the room that `writes` writes failed with `err`: whether it was for lack of space.
    fn refused(&mut self, err: &StoreError, writes: usize) -> bool {
        let full = self.room.failed(err, writes);
        if full {
            self.next_probe = Instant::now() + PROBE_EVERY;
        }
        full
    }

    /// Tries, while the database has no room, to commit a row of [`PROBE_BYTES`] durably: the
    /// store has room again once it does (the row is then deleted).
    async fn probe(&mut self) {
        self.next_probe = Instant::now() + PROBE_EVERY;
        if (self.dialect.free_bytes()).is_some_and(|free| free < MIN_FREE) {
            return;
        }
        let mut pad = vec![0; PROBE_BYTES];
        // Random, so that no database writes it compressed.
        fastrand::fill(&mut pad);
        match self.probe_transaction(Some(&pad)).await {
            Ok(()) => {
                if let Err(err) = self.probe_transaction(None).await {
                    tracing::warn!(error = ?err, "deleting the storage probe's row failed");
                }
                self.room.freed();
            }
            Err(err) => {
                let err = StoreError::Write(Arc::new(err));
                if !self.room.failed(&err, 0) {
                    tracing::debug!(error = ?err, "the storage probe failed");
                }
            }
        }
    }

    /// Writes (or with `None` deletes) the probe's row in a durable transaction of its own.
    async fn probe_transaction(&self, pad: Option<&[u8]>) -> Result<(), sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        if let Err(err) = self.dialect.begin(&mut conn, true).await {
            conn.close_on_drop();
            return Err(err);
        }
        let done = match D::probe(&mut conn, pad).await {
            Ok(()) => self.dialect.commit(&mut conn, &Effects::default()).await,
            Err(err) => Err(err),
        };
        if done.is_err() {
            rollback::<D>(conn).await;
        }
        done
    }

    /// Runs `ops` in one transaction, setting each one's answer: what the transaction did to jobs
    /// once committed, or the failure (after a rollback: nothing of `ops` is kept). What the
    /// writer knows of `job_waits` (see `Effects::waits`) and of the queue is updated once
    /// committed.
    async fn transaction(&mut self, ops: &mut [Op]) -> Result<Committed, Failure> {
        let begun = self.queue.snapshot();
        let mut effects = Effects::new(self.waits || D::SHARED, begun);
        // Until this transaction commits, assume nothing about `job_waits` (a rollback may bring
        // back rows it deleted).
        self.waits = true;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| Failure::Transaction(Arc::new(e)))?;
        let durable = ops.iter().any(Op::needs_durability);
        if let Err(err) = self.dialect.begin(&mut conn, durable).await {
            // Whatever state it is in, this connection is not to be used again.
            conn.close_on_drop();
            return Err(Failure::Transaction(Arc::new(err)));
        }
        if let Err(err) = execute::<D>(&mut conn, ops, &mut effects, self.backoff).await {
            rollback::<D>(conn).await;
            return Err(Failure::Write(err));
        }
        observe(ops, &mut effects);
        if let Err(err) = reread::<D>(&mut conn, &mut effects).await {
            rollback::<D>(conn).await;
            return Err(Failure::Write(err));
        }
        if let Err(err) = self.dialect.commit(&mut conn, &effects).await {
            rollback::<D>(conn).await;
            return Err(Failure::Transaction(Arc::new(err)));
        }
        self.waits = effects.waits;
        self.queue
            .committed(begun, &effects.drained, effects.queued);
        let committed = Committed {
            changes: effects.changes,
            deleted: effects.deleted,
            cancels: effects.cancels,
            released: effects.queued,
        };
        Ok(committed)
    }
}

/// Rolls back the open transaction of `conn` (harmless if the database already did: I/O
/// errors, a full disk); a connection that cannot is closed rather than reused.
async fn rollback<D: Dialect>(mut conn: PoolConnection<D::Db>) {
    if D::rollback(&mut conn).await.is_err() {
        conn.close_on_drop();
    }
}
