//! The single writer of a SQLite database, with group commit.
//!
//! Every write goes through one task that owns the one write connection. It takes whatever
//! writes are waiting (up to [`MAX_BATCH`]), runs them in one transaction and commits once,
//! and only then answers each caller: a submission is acknowledged only once it is durable,
//! yet under load one `fsync` covers many writes. Consecutive inserts become one multi-row
//! `INSERT`.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Executor, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use super::queries;
use crate::job::{JobId, JobKind, JobProgress};
use crate::store::{
    CancelResult, Claimed, DeleteResult, Lease, LeaseState, NewJob, Recovered, Result, StoreError,
    now,
};

/// Most writes in one transaction.
const MAX_BATCH: usize = 512;

type Reply<T> = oneshot::Sender<Result<T>>;

/// A write to apply, with where to send its result.
pub(super) enum Op {
    Insert(NewJob, Reply<()>),
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
        end: queries::RunEnd,
        reply: Reply<bool>,
    },
    Cancel(JobId, Reply<CancelResult>),
    Delete(JobId, Reply<DeleteResult>),
    Recover(Reply<Recovered>),
    /// Proves the writer task is alive and its connection answers.
    Ping(Reply<()>),
}

/// A result held back until the batch commits.
type Deliver = Box<dyn FnOnce(Option<&Arc<sqlx::Error>>) + Send>;

fn hold<T: Send + 'static>(reply: Reply<T>, result: Result<T>) -> Deliver {
    Box::new(move |commit_error| {
        let result = match commit_error {
            Some(err) => Err(StoreError::Write(Arc::clone(err))),
            None => result,
        };
        // The caller may have gone away (a dropped request); nothing to do then.
        let _ = reply.send(result);
    })
}

/// Handle to the writer task.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    ops: mpsc::Sender<Op>,
}

impl Writer {
    /// Starts the writer task on `conn`.
    pub(super) fn start(conn: SqliteConnection) -> Self {
        let (ops, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(conn, rx));
        Self { ops }
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

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Op>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        apply_batch(&mut conn, batch.drain(..)).await;
    }
}

async fn apply_batch(conn: &mut SqliteConnection, ops: impl Iterator<Item = Op>) {
    let mut held: Vec<Deliver> = Vec::new();
    let begun = conn.execute("BEGIN IMMEDIATE").await.map_err(Arc::new);
    let mut ops = ops.peekable();
    while let Some(op) = ops.next() {
        if begun.is_err() {
            held.push(skipped(op));
            continue;
        }
        match op {
            Op::Insert(job, reply) => {
                let mut jobs = vec![job];
                let mut replies = vec![reply];
                while let Some(Op::Insert(..)) = ops.peek() {
                    if let Some(Op::Insert(job, reply)) = ops.next() {
                        jobs.push(job);
                        replies.push(reply);
                    }
                }
                let result = queries::insert_many(conn, &jobs).await.map_err(Arc::new);
                held.extend(
                    replies
                        .into_iter()
                        .map(|reply| hold(reply, result.clone().map_err(StoreError::Write))),
                );
            }
            Op::Claim {
                kinds,
                n,
                owner,
                lease,
                reply,
            } => held.push(hold(
                reply,
                queries::claim(conn, &kinds, n, &owner, lease, now()).await,
            )),
            Op::Heartbeat {
                lease,
                progress,
                lease_for,
                reply,
            } => held.push(hold(
                reply,
                queries::heartbeat(conn, lease, progress, lease_for, now()).await,
            )),
            Op::Finish { end, reply } => {
                let mut ends = vec![end];
                let mut replies = vec![reply];
                while let Some(Op::Finish { .. }) = ops.peek() {
                    if let Some(Op::Finish { end, reply }) = ops.next() {
                        ends.push(end);
                        replies.push(reply);
                    }
                }
                let leases: Vec<Lease> = ends.iter().map(|e| e.lease).collect();
                match queries::finish_many(conn, ends).await.map_err(Arc::new) {
                    Ok(applied) => held.extend(
                        replies
                            .into_iter()
                            .zip(leases)
                            .map(|(reply, lease)| hold(reply, Ok(applied.contains(&lease.id)))),
                    ),
                    Err(err) => held.extend(
                        replies
                            .into_iter()
                            .map(|reply| hold(reply, Err(StoreError::Write(Arc::clone(&err))))),
                    ),
                }
            }
            Op::Cancel(id, reply) => held.push(hold(reply, queries::cancel(conn, id, now()).await)),
            Op::Delete(id, reply) => held.push(hold(reply, queries::delete(conn, id).await)),
            Op::Recover(reply) => held.push(hold(reply, queries::recover(conn, now()).await)),
            Op::Ping(reply) => {
                let pong = conn.execute("SELECT 1").await.map(drop).map_err(Into::into);
                held.push(hold(reply, pong));
            }
        }
    }
    let committed = match begun {
        Ok(_) => conn.execute("COMMIT").await.map(drop).map_err(Arc::new),
        Err(err) => Err(err),
    };
    if let Err(err) = &committed {
        tracing::error!(error = ?err, writes = held.len(), "a batch of writes failed");
        let _ = conn.execute("ROLLBACK").await;
    }
    for deliver in held {
        deliver(committed.as_ref().err());
    }
}

/// Holds the answer of an op that did not run because the batch could not begin; delivery
/// replaces it with that error.
fn skipped(op: Op) -> Deliver {
    fn gone<T>() -> Result<T> {
        Err(StoreError::WriterGone)
    }
    match op {
        Op::Insert(_, r) => hold(r, gone()),
        Op::Claim { reply, .. } => hold(reply, gone()),
        Op::Heartbeat { reply, .. } => hold(reply, gone()),
        Op::Finish { reply, .. } => hold(reply, gone()),
        Op::Cancel(_, r) => hold(r, gone()),
        Op::Delete(_, r) => hold(r, gone()),
        Op::Recover(r) => hold(r, gone()),
        Op::Ping(r) => hold(r, gone()),
    }
}
