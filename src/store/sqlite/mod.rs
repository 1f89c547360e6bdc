//! The SQLite store: one file in WAL mode, one writer with group commit (on a pool of one
//! connection) and a pool of read-only connections; [`SqliteDialect`] holds its statements.
//!
//! SQLite allows one writer at a time. Funnelling every write through a single connection
//! makes writers queue in-process instead of spinning on `SQLITE_BUSY`, and lets one commit
//! (one `fsync`) cover every write waiting at that moment; readers never block the writer in
//! WAL mode. One faena process per database file.

mod deps;
mod ends;
mod files;
mod jobs;
mod read;
mod stats;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Executor, Sqlite};
use tokio::sync::broadcast;

use super::sql::{Dialect, Effects};
use super::{Reads as StoreReads, Result, Store, StoreError};
use crate::job::{Backoff, JobId};
pub(crate) use read::Reads;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Tuning of the SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// How long a statement waits for a lock before failing.
    pub busy_timeout: Duration,
    /// `true` syncs every commit to disk (survives power loss); `false` syncs at checkpoints
    /// (survives a process crash, not a power cut).
    pub synchronous_full: bool,
    /// Reader connections (jobs, lists, file listings).
    pub readers: u32,
    /// Connections that read the bytes of saved pages (`word_count` reads two at once).
    pub page_readers: u32,
    /// Bytes of the database file each page reader maps into memory (`PRAGMA mmap_size`; 0:
    /// none) and reads without a system call and a copy per page, which makes reading large
    /// BLOBs (the saved pages `word_count` reads) about a third cheaper. The pages touched are
    /// the file's, in the page cache, but they count in the process's RSS while mapped: only
    /// these connections map, and they close after [`PAGE_READER_IDLE`] unused (sqlx's reaper
    /// runs about as often: within 20 s), so that reading jobs (a million queued, say) never
    /// maps the file.
    pub page_reader_mmap_bytes: u64,
    /// Names of kinds the store must accept besides those of its migrations (a kind
    /// registered by a program embedding faena): added to `job_kinds` at open.
    pub kinds: Vec<String>,
}

/// How long an unused page reader stays open (and its mapping of the file with it).
pub const PAGE_READER_IDLE: Duration = Duration::from_secs(10);

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
            synchronous_full: true,
            readers: 4,
            page_readers: 2,
            page_reader_mmap_bytes: 1 << 30,
            kinds: Vec::new(),
        }
    }
}

/// Most rows in one multi-row statement (SQLite allows 32766 bound values).
const INSERT_CHUNK: usize = 1000;

/// Texts bound as `Arc<str>`, which SQLite's driver takes as they are: it copies a `&str`
/// twice at every bind (into a `String`, then into an `Arc`). A multi-row statement binds the
/// same few names (a kind, a status) on every row: each is made once per statement.
#[derive(Default)]
struct Texts(Vec<(&'static str, Arc<str>)>);

impl Texts {
    /// `s`, shared with the rows before that bound it.
    fn get(&mut self, s: &'static str) -> Arc<str> {
        if let Some((_, text)) = self.0.iter().find(|(known, _)| *known == s) {
            return Arc::clone(text);
        }
        let text: Arc<str> = Arc::from(s);
        self.0.push((s, Arc::clone(&text)));
        text
    }
}

// Statements that join `jobs` with a list of ids (`VALUES`, `json_each`, a subquery) and also
// test `jobs.status` write `+jobs.status`, which keeps SQLite from using an index for it:
// otherwise SQLite 3.51 may take the (status, id) index and scan every job of that status for
// each id of the list (seconds for 500 answers with 50,000 jobs running) instead of looking
// each id up by its primary key.

/// A job id as bound: its text (hyphenated, lower case) copied once.
fn id_text(id: JobId) -> Arc<str> {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    Arc::from(&*id.as_uuid().hyphenated().encode_lower(&mut buf))
}

/// A time as SQLite keeps it: milliseconds since the epoch.
fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Takes the exclusive lock that makes this process the only one on `db`.
fn lock(db: &Path) -> Result<Option<std::fs::File>> {
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
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked(db.display().to_string())),
        Err(std::fs::TryLockError::Error(err)) => Err(sqlx::Error::Io(err).into()),
    }
}

/// Opens (creating if needed) the database at `url` and applies pending migrations. One
/// process per file: a second one is refused ([`StoreError::Locked`]).
pub(crate) async fn open(url: &str, options: &SqliteOptions, backoff: Backoff) -> Result<Store> {
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
    let file = connect.get_filename().to_path_buf();
    let mut conn = connect.connect().await?;
    incremental_auto_vacuum(&mut conn).await?;
    MIGRATOR.run(&mut conn).await?;
    for name in &options.kinds {
        sqlx::query("INSERT INTO job_kinds (name) VALUES (?) ON CONFLICT DO NOTHING")
            .bind(name)
            .execute(&mut conn)
            .await?;
    }
    drop(conn);
    // The one write connection, kept for the life of the store.
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .test_before_acquire(false)
        .connect_with(connect.clone())
        .await?;
    let reader = SqlitePoolOptions::new()
        .max_connections(options.readers.max(1))
        .connect_with(connect.clone().read_only(true))
        .await?;
    let pages = SqlitePoolOptions::new()
        .max_connections(options.page_readers.max(1))
        .min_connections(0)
        .idle_timeout(PAGE_READER_IDLE)
        .connect_lazy_with(
            connect
                .read_only(true)
                .pragma("mmap_size", options.page_reader_mmap_bytes.to_string()),
        );
    let (events, _) = broadcast::channel(4096);
    let dialect = SqliteDialect {
        full: options.synchronous_full,
        relaxed: AtomicBool::new(false),
        file,
    };
    let reads = StoreReads::Sqlite(Reads { reader, pages });
    Ok(Store::new(
        dialect,
        writer,
        reads,
        events,
        Box::new(lock),
        backoff,
    ))
}

/// Puts the database in incremental auto-vacuum mode, so that the pages of pruned jobs can be
/// given back to the file system (`PRAGMA incremental_vacuum` after each prune). A new file
/// takes the mode at once; an existing one needs a `VACUUM` (once: it rewrites the file).
async fn incremental_auto_vacuum(conn: &mut SqliteConnection) -> Result<()> {
    const INCREMENTAL: i64 = 2;
    let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
        .fetch_one(&mut *conn)
        .await?;
    if mode == INCREMENTAL {
        return Ok(());
    }
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query("PRAGMA auto_vacuum = INCREMENTAL")
        .execute(&mut *conn)
        .await?;
    if pages > 0 {
        // A new file (its first page only) is not worth a line in the log.
        if pages > 1 {
            tracing::info!(
                pages,
                "rewriting the database once for incremental auto-vacuum"
            );
        }
        sqlx::query("VACUUM").execute(&mut *conn).await?;
    }
    Ok(())
}

/// Applies pending migrations to the database at `url`; returns how many are applied.
pub(crate) async fn migrate(url: &str) -> Result<usize> {
    let store = open(url, &SqliteOptions::default(), Backoff::default()).await?;
    let applied = sqlx::query_scalar::<Sqlite, i64>("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(store.sqlite_reader())
        .await?;
    Ok(applied as usize)
}

impl Store {
    /// The reader pool of a SQLite store (panics on another).
    fn sqlite_reader(&self) -> &SqlitePool {
        match &self.reads {
            StoreReads::Sqlite(reads) => &reads.reader,
            StoreReads::Postgres(_) => unreachable!("a SQLite store"),
        }
    }
}

/// The statements of SQLite.
pub(crate) struct SqliteDialect {
    /// Whether commits wait for the disk (`synchronous = FULL`, the default).
    full: bool,
    /// Whether the write connection is at `NORMAL` for a batch that need not be durable.
    relaxed: AtomicBool,
    /// The database file: its file system's free space tells whether it has room.
    file: std::path::PathBuf,
}

#[async_trait]
impl Dialect for SqliteDialect {
    type Db = Sqlite;
    const SHARED: bool = false;

    async fn begin(&self, conn: &mut SqliteConnection, durable: bool) -> Result<(), sqlx::Error> {
        // The level cannot change inside a transaction. A new connection starts at the
        // configured level: at worst the next durable batch sets FULL again.
        if self.full && self.relaxed.load(Ordering::Relaxed) == durable {
            let pragma = if durable {
                "PRAGMA synchronous = FULL"
            } else {
                "PRAGMA synchronous = NORMAL"
            };
            conn.execute(pragma).await?;
            self.relaxed.store(!durable, Ordering::Relaxed);
        }
        // Take the write lock at once: a deferred transaction could fail on its first write.
        match conn.execute("BEGIN IMMEDIATE").await {
            Ok(_) => Ok(()),
            Err(_) => {
                // A transaction left open by a failed rollback: close it and try once more.
                let _ = conn.execute("ROLLBACK").await;
                conn.execute("BEGIN IMMEDIATE").await.map(drop)
            }
        }
    }

    async fn commit(&self, conn: &mut SqliteConnection, _: &Effects) -> Result<(), sqlx::Error> {
        conn.execute("COMMIT").await.map(drop)
    }

    async fn rollback(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
        conn.execute("ROLLBACK").await.map(drop)
    }

    fn retryable(_: &sqlx::Error) -> bool {
        // The only writer of its file: nothing to wait out.
        false
    }

    async fn ping(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
        conn.execute("SELECT 1").await.map(drop)
    }

    async fn probe(conn: &mut SqliteConnection, pad: Option<&[u8]>) -> Result<(), sqlx::Error> {
        let query = match pad {
            Some(pad) => sqlx::query(
                "INSERT INTO storage_probe (id, pad) VALUES (1, ?) \
                 ON CONFLICT (id) DO UPDATE SET pad = excluded.pad",
            )
            .bind(pad),
            None => sqlx::query("DELETE FROM storage_probe"),
        };
        query.execute(conn).await.map(drop)
    }

    fn free_bytes(&self) -> Option<u64> {
        // A probe may commit into log pages already allocated (a WAL is reused, not shrunk,
        // after a checkpoint): the file system says whether there is room beyond them.
        let dir = self.file.parent().filter(|d| !d.as_os_str().is_empty());
        let dir = std::ffi::CString::new(
            dir.unwrap_or(std::path::Path::new("."))
                .as_os_str()
                .as_encoded_bytes(),
        )
        .ok()?;
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `dir` is a NUL-terminated path and `stat` a writable statvfs.
        if unsafe { libc::statvfs(dir.as_ptr(), &mut stat) } != 0 {
            return None;
        }
        // 32-bit fields on some platforms.
        #[allow(clippy::useless_conversion)]
        Some(u64::from(stat.f_bavail) * u64::from(stat.f_frsize))
    }
}
