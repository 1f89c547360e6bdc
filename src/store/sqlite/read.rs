//! Reads on SQLite ([`Reads`]): jobs, listings and counts on the pool of read-only
//! connections, never waiting for the writer (WAL). Saved files' bytes are read on a pool of
//! their own (see `files.rs`), statistics in `stats.rs`.

use std::collections::HashMap;

use sqlx::{Executor, QueryBuilder, Sqlite, SqlitePool};

use crate::job::{Job, JobId};
use crate::store::rows::{IdempotentRow, JOB_COLUMNS, JobRow, job_columns};
use crate::store::sql::{COUNT_QUEUED, COUNT_QUEUED_BY_TENANT};
use crate::store::{ListFilter, Result};

/// The read pools of a SQLite store.
pub(crate) struct Reads {
    pub(super) reader: SqlitePool,
    /// Connections that map the file, for the bytes of saved pages.
    pub(super) pages: SqlitePool,
}

impl Reads {
    pub(crate) async fn ping(&self) -> Result<()> {
        self.reader.execute("SELECT 1").await?;
        Ok(())
    }

    pub(crate) async fn get(&self, id: JobId) -> Result<Option<Job>> {
        sqlx::query_as::<_, JobRow>(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE id = ?1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?
        .map(Job::try_from)
        .transpose()
    }

    /// The job created with the stored idempotency key `key`, and the hash of its request.
    pub(crate) async fn by_idempotency_key(&self, key: &str) -> Result<Option<(Job, String)>> {
        let row: Option<IdempotentRow> = sqlx::query_as(concat!(
            "SELECT ",
            job_columns!(),
            ", request_hash FROM jobs WHERE idempotency_key = ?1"
        ))
        .bind(key)
        .fetch_optional(&self.reader)
        .await?;
        row.map(IdempotentRow::parse).transpose()
    }

    pub(crate) async fn list(&self, filter: &ListFilter) -> Result<Vec<Job>> {
        let mut q =
            QueryBuilder::<Sqlite>::new(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1"));
        if let Some(status) = filter.status {
            q.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(kind) = filter.kind {
            q.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(before) = filter.before {
            q.push(" AND id < ").push_bind(before.to_string());
        }
        if let Some(tenant) = &filter.tenant {
            q.push(" AND tenant = ").push_bind(tenant.clone());
        }
        q.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(filter.limit));
        q.build_query_as::<JobRow>()
            .fetch_all(&self.reader)
            .await?
            .into_iter()
            .map(Job::try_from)
            .collect()
    }

    pub(crate) async fn count_queued(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(COUNT_QUEUED)
            .fetch_one(&self.reader)
            .await?;
        Ok(n.max(0) as u64)
    }

    pub(crate) async fn count_queued_by_tenant(&self) -> Result<HashMap<String, u64>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(COUNT_QUEUED_BY_TENANT)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(t, n)| (t, n.max(0) as u64))
            .collect())
    }
}
