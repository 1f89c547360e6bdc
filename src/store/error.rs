//! What can go wrong in the store, and how callers tell a refusal from an outage.

use crate::job::JobId;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored row is invalid: {0}")]
    Corrupt(String),
    #[error("invalid database url `{0}`")]
    Url(String),
    /// A write shared a failed statement or transaction with others (group commit).
    #[error("writing to the database failed")]
    Write(#[source] std::sync::Arc<sqlx::Error>),
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("{0} is in use by another faena process (one process per SQLite file)")]
    Locked(String),
    /// A job named in `depends_on` does not exist.
    #[error("job {0} does not exist")]
    UnknownDependency(JobId),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    fn sqlx(&self) -> Option<&sqlx::Error> {
        match self {
            Self::Database(err) => Some(err),
            Self::Write(err) => Some(err),
            _ => None,
        }
    }

    /// The database's error, to share between several writes (one error failed them all);
    /// `self` back when it is not the database's.
    pub(crate) fn into_shared(self) -> Result<std::sync::Arc<sqlx::Error>, Self> {
        match self {
            Self::Database(err) => Ok(std::sync::Arc::new(err)),
            Self::Write(err) => Ok(err),
            other => Err(other),
        }
    }

    /// A write broke a uniqueness rule (e.g. an idempotency key already used).
    pub fn is_unique_violation(&self) -> bool {
        self.sqlx()
            .and_then(sqlx::Error::as_database_error)
            .is_some_and(|e| e.is_unique_violation())
    }

    /// The database has no room to write: SQLite's `SQLITE_FULL` (the disk, or its
    /// `max_page_count`), PostgreSQL's `53100 disk_full`. The rest of PostgreSQL's class 53
    /// (out of memory, too many connections) is [`StoreError::is_unavailable`].
    pub fn is_storage_full(&self) -> bool {
        self.sqlx()
            .and_then(sqlx::Error::as_database_error)
            .and_then(|e| e.code())
            .is_some_and(|code| code == "13" || code == "53100")
    }

    /// The database cannot be reached or does not answer in time (as opposed to refusing a
    /// statement): the request may succeed later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::WriterGone => true,
            _ if self.is_storage_full() => false,
            _ => self.sqlx().is_some_and(|e| {
                matches!(
                    e,
                    sqlx::Error::Io(_)
                        | sqlx::Error::Tls(_)
                        | sqlx::Error::Protocol(_)
                        | sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::WorkerCrashed
                ) || e.as_database_error().is_some_and(|d| {
                    // PostgreSQL: connection exceptions (08), insufficient resources (53),
                    // operator intervention (57: shutdown, terminated sessions); SQLite: busy
                    // or locked past the busy timeout.
                    let code = d.code().unwrap_or_default();
                    ["08", "53", "57"]
                        .iter()
                        .any(|class| code.starts_with(class))
                        || matches!(code.as_ref(), "5" | "6" | "261" | "262" | "517")
                })
            }),
        }
    }
}
