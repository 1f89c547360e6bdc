//! Whether the database has room to write: a documented condition, not an internal error.
//!
//! A write that fails for lack of space (SQLite's `SQLITE_FULL`, PostgreSQL's `53100
//! disk_full`) puts the store in the *full* state; the writer then proves every
//! [`PROBE_EVERY`] that space came back, by committing a row of [`PROBE_BYTES`] (durably)
//! and deleting it, and the first probe that commits ends the state. Writes are not refused
//! up front while full: each is tried, and fails on its own if there is still no room, so a
//! write that fits goes through. The state is what readiness, the metrics and the logs show:
//! one line when it begins, one when it ends, rather than one per refused write.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::StoreError;

/// How often the writer tries to write while the store is full.
pub(crate) const PROBE_EVERY: Duration = Duration::from_secs(1);

/// The size of the probe's row: room for it is room for a good batch of jobs, so that the
/// state does not flap on a disk that has a few pages free.
pub(crate) const PROBE_BYTES: usize = 256 * 1024;

/// Where the process can see the file system's free space (SQLite), less than this is no
/// room: a probe could commit into log pages already allocated and end the state while the
/// disk is still full.
pub(crate) const MIN_FREE: u64 = 4 * PROBE_BYTES as u64;

/// The state of the store's space, shared by the writer (which changes it) and the store's
/// callers (which read it).
#[derive(Debug, Default)]
pub(crate) struct Room {
    full: AtomicBool,
    /// Since when it is full.
    since: Mutex<Option<Instant>>,
    /// Writes refused for lack of space since the start.
    refused: AtomicU64,
}

impl Room {
    pub(crate) fn is_full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }

    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// `writes` writes failed with `err`: if it says the database has no room, counts them,
    /// enters the full state (logged once) and answers `true`.
    pub(crate) fn failed(&self, err: &StoreError, writes: usize) -> bool {
        if !err.is_storage_full() {
            return false;
        }
        self.refused.fetch_add(writes as u64, Ordering::Relaxed);
        let mut since = self.since.lock().unwrap_or_else(|e| e.into_inner());
        if since.is_none() {
            *since = Some(Instant::now());
            self.full.store(true, Ordering::Relaxed);
            tracing::error!(
                error = ?err,
                "the job store has no room to write (disk full): writes are refused with \
                 storage_full and /readyz answers 503 until space is freed"
            );
        }
        true
    }

    /// A probe committed: the database has room again (logged once).
    pub(crate) fn freed(&self) {
        let mut since = self.since.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = since.take() {
            self.full.store(false, Ordering::Relaxed);
            tracing::warn!(
                full_for_ms = at.elapsed().as_millis() as u64,
                refused_writes = self.refused(),
                "the job store has room to write again"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sqlx::{Connection, Executor, SqliteConnection};

    use super::*;

    /// A real `SQLITE_FULL`: an in-memory database capped at a few pages, written past them.
    async fn sqlite_full() -> StoreError {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        conn.execute("PRAGMA max_page_count = 4; CREATE TABLE t (b BLOB)")
            .await
            .unwrap();
        let err = conn
            .execute("INSERT INTO t VALUES (zeroblob(100000))")
            .await
            .unwrap_err();
        StoreError::Write(Arc::new(err))
    }

    #[tokio::test]
    async fn a_full_database_is_told_from_other_failures() {
        assert!(sqlite_full().await.is_storage_full());
        let busy = StoreError::Database(sqlx::Error::PoolTimedOut);
        assert!(!busy.is_storage_full());
        assert!(!StoreError::WriterGone.is_storage_full());
    }

    #[tokio::test]
    async fn the_state_begins_at_the_first_refusal_and_ends_at_a_probe() {
        let room = Room::default();
        assert!(!room.failed(&StoreError::WriterGone, 3));
        assert!((!room.is_full(), room.refused()) == (true, 0));
        let full = sqlite_full().await;
        assert!(room.failed(&full, 2));
        assert!(room.failed(&full, 1));
        assert!(room.is_full());
        assert_eq!(room.refused(), 3);
        room.freed();
        assert!(!room.is_full());
        // Counted since the start, not per episode.
        assert!(room.failed(&full, 1));
        assert_eq!(room.refused(), 4);
    }
}
