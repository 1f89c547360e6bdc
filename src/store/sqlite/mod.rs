//! The SQLite store: one file in WAL mode, one writer task with group commit ([`writer`]) and
//! a pool of read-only connections.
//!
//! SQLite allows one writer at a time. Funnelling every write through a single connection
//! makes writers queue in-process instead of spinning on `SQLITE_BUSY`, and lets one commit
//! (one `fsync`) cover every write waiting at that moment; readers never block the writer in
//! WAL mode. One faena process per database file.

mod queries;
#[cfg(test)]
mod tests;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Sqlite};

use super::{
    CancelResult, Claimed, DeleteResult, FileData, FileInfo, Inserted, JobStore, Lease, LeaseState,
    ListFilter, NewFile, NewJob, Outcome, Recovered, Result, StoreError,
};
use crate::job::{Job, JobId, JobKind, JobProgress, JobStatus};
use writer::{Op, Writer};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Tuning of the SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// How long a statement waits for a lock before failing.
    pub busy_timeout: Duration,
    /// `true` syncs every commit to disk (survives power loss); `false` syncs at checkpoints
    /// (survives a process crash, not a power cut).
    pub synchronous_full: bool,
    /// Reader connections.
    pub readers: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
            synchronous_full: true,
            readers: 4,
        }
    }
}

/// Jobs in a SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Writer,
    reader: SqlitePool,
    /// An exclusive lock on `<database>.lock`, held while the store lives: a second process
    /// on the same file would take over this one's running jobs at its start.
    _lock: Option<Arc<std::fs::File>>,
}

/// Takes the exclusive lock that makes this process the only one on `db`.
fn lock(db: &Path) -> Result<Option<Arc<std::fs::File>>> {
    if db.as_os_str().is_empty() || db == Path::new(":memory:") {
        return Ok(None);
    }
    let mut path = db.as_os_str().to_owned();
    path.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(sqlx::Error::Io)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(Arc::new(file))),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked(db.display().to_string())),
        Err(std::fs::TryLockError::Error(err)) => Err(sqlx::Error::Io(err).into()),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    pub async fn open(url: &str, options: &SqliteOptions) -> Result<Self> {
        let connect = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if options.synchronous_full {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true);
        if let Some(dir) = connect.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        let lock = lock(connect.get_filename())?;
        let mut conn = connect.connect().await?;
        MIGRATOR.run(&mut conn).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .connect_with(connect.read_only(true))
            .await?;
        Ok(Self {
            writer: Writer::start(conn),
            reader,
            _lock: lock,
        })
    }

    /// Applies pending migrations to the database at `url`; returns how many are applied.
    pub async fn migrate(url: &str) -> Result<usize> {
        let store = Self::open(url, &SqliteOptions::default()).await?;
        let applied = sqlx::query_scalar::<Sqlite, i64>("SELECT count(*) FROM _sqlx_migrations")
            .fetch_one(&store.reader)
            .await?;
        Ok(applied as usize)
    }
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        self.writer.apply(Op::Ping).await
    }

    async fn insert(&self, new: NewJob) -> Result<Job> {
        let mut job = Job {
            id: new.id,
            kind: new.spec.kind(),
            params: new.spec.params_json(),
            status: JobStatus::Queued,
            priority: new.options.priority,
            timeout_ms: new.options.timeout_ms,
            attempt: 0,
            max_attempts: new.options.max_attempts,
            depends_on: new.depends_on.clone(),
            progress: None,
            created_at: new.created_at,
            started_at: None,
            finished_at: None,
            result: None,
            error: None,
        };
        if let Inserted::Failed(error) = self.writer.apply(|reply| Op::Insert(new, reply)).await? {
            job.status = JobStatus::Failed;
            job.finished_at = Some(job.created_at);
            job.error = Some(error);
        }
        Ok(job)
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>> {
        queries::get(&self.reader, id).await
    }

    async fn list(&self, filter: &ListFilter) -> Result<Vec<Job>> {
        queries::list(&self.reader, filter).await
    }

    async fn claim(
        &self,
        kinds: &[JobKind],
        n: usize,
        owner: &str,
        lease: Duration,
    ) -> Result<Vec<Claimed>> {
        if n == 0 || kinds.is_empty() {
            return Ok(Vec::new());
        }
        self.writer
            .apply(|reply| Op::Claim {
                kinds: kinds.to_vec(),
                n,
                owner: owner.to_string(),
                lease,
                reply,
            })
            .await
    }

    async fn heartbeat(
        &self,
        lease: Lease,
        progress: Option<JobProgress>,
        lease_for: Duration,
    ) -> Result<LeaseState> {
        self.writer
            .apply(|reply| Op::Heartbeat {
                lease,
                progress,
                lease_for,
                reply,
            })
            .await
    }

    async fn finish(
        &self,
        lease: Lease,
        outcome: Outcome,
        progress: Option<JobProgress>,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        self.writer
            .apply(|reply| Op::Finish {
                end: queries::RunEnd {
                    lease,
                    outcome,
                    progress,
                    at,
                },
                reply,
            })
            .await
    }

    async fn cancel(&self, id: JobId) -> Result<CancelResult> {
        self.writer.apply(|reply| Op::Cancel(id, reply)).await
    }

    async fn delete(&self, id: JobId) -> Result<DeleteResult> {
        self.writer.apply(|reply| Op::Delete(id, reply)).await
    }

    async fn recover_interrupted(&self) -> Result<Recovered> {
        self.writer.apply(|reply| Op::Recover(None, reply)).await
    }

    async fn rescue_expired(&self, now: DateTime<Utc>, keep: &[JobId]) -> Result<Recovered> {
        let keep = keep.to_vec();
        self.writer
            .apply(|reply| Op::Recover(Some((now, keep)), reply))
            .await
    }

    fn side_finals(&self) -> tokio::sync::broadcast::Receiver<JobId> {
        self.writer.side_finals()
    }

    async fn save_file(&self, lease: Lease, file: NewFile) -> Result<bool> {
        self.writer
            .apply(|reply| Op::SaveFile { lease, file, reply })
            .await
    }

    async fn clear_files(&self, lease: Lease) -> Result<bool> {
        self.writer
            .apply(|reply| Op::ClearFiles(lease, reply))
            .await
    }

    async fn list_files(&self, id: JobId) -> Result<Vec<FileInfo>> {
        queries::files::list(&self.reader, id).await
    }

    async fn file_info(&self, id: JobId, name: &str) -> Result<Option<FileInfo>> {
        queries::files::one(&self.reader, id, name).await
    }

    async fn read_file(
        &self,
        id: JobId,
        name: &str,
        offset: u64,
        len: u32,
    ) -> Result<Option<Vec<u8>>> {
        queries::files::read(&self.reader, id, name, offset, len).await
    }

    async fn read_files(
        &self,
        id: JobId,
        from_index: u32,
        max_bytes: u64,
    ) -> Result<Vec<FileData>> {
        let mut conn = self.reader.acquire().await?;
        queries::files::read_many(&mut conn, id, from_index, max_bytes).await
    }
}
