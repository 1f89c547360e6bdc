//! Reads on PostgreSQL ([`Reads`]): jobs, listings and counts on the pool (statistics in
//! `stats.rs`, saved files in `files.rs`).

use std::collections::HashMap;

use sqlx::{Executor, PgPool, Postgres, QueryBuilder};

use super::{pg_job_columns, uuid};
use crate::job::{Job, JobId};
use crate::store::rows::{IdempotentRow, JobRow};
use crate::store::sql::{COUNT_QUEUED, COUNT_QUEUED_BY_TENANT};
use crate::store::{ListFilter, Result};

/// The pool a PostgreSQL store reads on.
pub(crate) struct Reads {
    pub(super) pool: PgPool,
}

impl Reads {
    pub(crate) async fn ping(&self) -> Result<()> {
        self.pool.execute("SELECT 1").await?;
        Ok(())
    }

    pub(crate) async fn get(&self, id: JobId) -> Result<Option<Job>> {
        sqlx::query_as::<_, JobRow>(concat!(
            "SELECT ",
            pg_job_columns!(),
            " FROM jobs WHERE id = $1"
        ))
        .bind(uuid(id))
        .fetch_optional(&self.pool)
        .await?
        .map(Job::try_from)
        .transpose()
    }

    /// The job created with the stored idempotency key `key`, and the hash of its request.
    pub(crate) async fn by_idempotency_key(&self, key: &str) -> Result<Option<(Job, String)>> {
        let row: Option<IdempotentRow> = sqlx::query_as(concat!(
            "SELECT ",
            pg_job_columns!(),
            ", jobs.request_hash FROM jobs WHERE idempotency_key = $1"
        ))
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(IdempotentRow::parse).transpose()
    }

    pub(crate) async fn list(&self, filter: &ListFilter) -> Result<Vec<Job>> {
        let mut q = QueryBuilder::<Postgres>::new(concat!(
            "SELECT ",
            pg_job_columns!(),
            " FROM jobs WHERE true"
        ));
        if let Some(status) = filter.status {
            q.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(kind) = filter.kind {
            q.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(before) = filter.before {
            q.push(" AND id < ").push_bind(uuid(before));
        }
        if let Some(tenant) = &filter.tenant {
            q.push(" AND tenant = ").push_bind(tenant.clone());
        }
        q.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(filter.limit));
        q.build_query_as::<JobRow>()
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(Job::try_from)
            .collect()
    }

    pub(crate) async fn count_queued(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(COUNT_QUEUED)
            .fetch_one(&self.pool)
            .await?;
        Ok(n.max(0) as u64)
    }

    pub(crate) async fn count_queued_by_tenant(&self) -> Result<HashMap<String, u64>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(COUNT_QUEUED_BY_TENANT)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(t, n)| (t, n.max(0) as u64))
            .collect())
    }
}
