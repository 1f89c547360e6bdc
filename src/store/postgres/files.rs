//! Saved files on PostgreSQL: fenced writes by the run that saves them ([`FileSql`], holding
//! its job row until commit, so that a rescue cannot slip in between), reads by anyone
//! ([`Reads`]).

use std::collections::HashSet;
use std::ops::Range;

use async_trait::async_trait;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{PgDialect, Reads, uuid};
use crate::job::JobId;
use crate::store::rows::{InfoRow, info};
use crate::store::sql::FileSql;
use crate::store::{FileData, FileInfo, Lease, NewFile, Result};

#[async_trait]
impl FileSql for PgDialect {
    /// In one statement.
    async fn save_files(
        conn: &mut PgConnection,
        files: &[(Lease, &NewFile)],
    ) -> Result<HashSet<(JobId, u32)>, sqlx::Error> {
        let mut ids = Vec::with_capacity(files.len());
        let mut fences = Vec::with_capacity(files.len());
        let mut indexes = Vec::with_capacity(files.len());
        let mut names = Vec::with_capacity(files.len());
        let mut types = Vec::with_capacity(files.len());
        let mut contents = Vec::with_capacity(files.len());
        for (lease, file) in files {
            ids.push(uuid(lease.id));
            fences.push(lease.fence);
            indexes.push(i64::from(file.index));
            names.push(file.name.as_str());
            types.push(file.content_type.as_str());
            contents.push(file.content.as_ref());
        }
        let rows: Vec<(Uuid, i64)> = sqlx::query_as(
            "INSERT INTO job_files (job_id, idx, name, content_type, size, content) \
             SELECT v.id, v.idx, v.name, v.content_type, octet_length(v.content), v.content \
             FROM unnest($1::uuid[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::bytea[]) \
                  AS v(id, fence, idx, name, content_type, content) \
             JOIN jobs ON jobs.id = v.id AND jobs.fence = v.fence AND jobs.status = 'running' \
             FOR SHARE OF jobs \
             ON CONFLICT (job_id, idx) DO UPDATE SET name = excluded.name, \
                 content_type = excluded.content_type, size = excluded.size, \
                 content = excluded.content \
             RETURNING job_id, idx",
        )
        .bind(ids)
        .bind(fences)
        .bind(indexes)
        .bind(names)
        .bind(types)
        .bind(contents)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, idx)| Some((JobId::from(id), u32::try_from(idx).ok()?)))
            .collect())
    }

    async fn clear_files(conn: &mut PgConnection, lease: Lease) -> Result<bool, sqlx::Error> {
        let holds: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM jobs WHERE id = $1 AND fence = $2 AND status = 'running' FOR SHARE",
        )
        .bind(uuid(lease.id))
        .bind(lease.fence)
        .fetch_optional(&mut *conn)
        .await?;
        if holds.is_none() {
            return Ok(false);
        }
        sqlx::query("DELETE FROM job_files WHERE job_id = $1")
            .bind(uuid(lease.id))
            .execute(&mut *conn)
            .await?;
        Ok(true)
    }
}

impl Reads {
    pub(crate) async fn list_files(&self, id: JobId) -> Result<Vec<FileInfo>> {
        let conn = &self.pool;
        sqlx::query_as::<_, InfoRow>(
            "SELECT idx, name, content_type, size FROM job_files WHERE job_id = $1 ORDER BY idx",
        )
        .bind(uuid(id))
        .fetch_all(conn)
        .await?
        .into_iter()
        .map(info)
        .collect()
    }

    pub(crate) async fn file_info(&self, id: JobId, name: &str) -> Result<Option<FileInfo>> {
        let conn = &self.pool;
        if !storable(name) {
            return Ok(None);
        }
        sqlx::query_as::<_, InfoRow>(
            "SELECT idx, name, content_type, size FROM job_files WHERE job_id = $1 AND name = $2",
        )
        .bind(uuid(id))
        .bind(name)
        .fetch_optional(conn)
        .await?
        .map(info)
        .transpose()
    }

    /// Up to `len` bytes of a file from `offset`.
    pub(crate) async fn read_file(
        &self,
        id: JobId,
        name: &str,
        offset: u64,
        len: u32,
    ) -> Result<Option<Vec<u8>>> {
        let conn = &self.pool;
        if !storable(name) {
            return Ok(None);
        }
        // substring() of bytea counts bytes, from 1, in int4 (a bytea holds at most 1 GiB); on
        // uncompressed out-of-line storage it fetches only the chunks it needs.
        Ok(sqlx::query_scalar(
            "SELECT substring(content FROM $3 FOR $4) FROM job_files \
             WHERE job_id = $1 AND name = $2",
        )
        .bind(uuid(id))
        .bind(name)
        .bind(i32::try_from(offset.saturating_add(1)).unwrap_or(i32::MAX))
        .bind(i32::try_from(len).unwrap_or(i32::MAX))
        .fetch_optional(conn)
        .await?)
    }

    /// The files whose index is in `indices`, by index.
    pub(crate) async fn read_files(&self, id: JobId, indices: Range<u32>) -> Result<Vec<FileData>> {
        let conn = &self.pool;
        let rows: Vec<(i64, String, String, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT idx, name, content_type, size, content FROM job_files \
             WHERE job_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
        )
        .bind(uuid(id))
        .bind(i64::from(indices.start))
        .bind(i64::from(indices.end))
        .fetch_all(conn)
        .await?;
        rows.into_iter()
            .map(|(index, name, content_type, size, content)| {
                Ok(FileData {
                    info: info((index, name, content_type, size))?,
                    content,
                })
            })
            .collect()
    }
}

/// Whether a file can have this name: PostgreSQL text cannot hold NUL, and binding one is an
/// error, not a mismatch (the name comes from a request path, where `%00` decodes to NUL).
fn storable(name: &str) -> bool {
    !name.contains('\0')
}
