//! Saved files on SQLite: fenced writes by the run that saves them ([`FileSql`]), reads by
//! anyone ([`Reads`]; their bytes on the page readers, which map the file).

use std::collections::HashSet;
use std::ops::Range;

use async_trait::async_trait;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::{Reads, SqliteDialect};
use crate::job::JobId;
use crate::store::rows::{InfoRow, info};
use crate::store::sql::FileSql;
use crate::store::{FileData, FileInfo, Lease, NewFile, Result};

/// Whether `lease` still holds its running job.
async fn holds(conn: &mut SqliteConnection, lease: Lease) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE id = ?1 AND fence = ?2 AND status = 'running')",
    )
    .bind(lease.id.to_string())
    .bind(lease.fence)
    .fetch_one(&mut *conn)
    .await
}

/// Most files in one `INSERT` (6 bound values each; SQLite allows 32766).
const SAVE_CHUNK: usize = 1000;

#[async_trait]
impl FileSql for SqliteDialect {
    async fn save_files(
        conn: &mut SqliteConnection,
        files: &[(Lease, &NewFile)],
    ) -> Result<HashSet<(JobId, u32)>, sqlx::Error> {
        let mut saved = HashSet::with_capacity(files.len());
        for chunk in files.chunks(SAVE_CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT OR REPLACE INTO job_files (job_id, idx, name, content_type, size, content) \
                 SELECT v.column1, v.column3, v.column4, v.column5, length(v.column6), v.column6 \
                 FROM (",
            );
            q.push_values(chunk, |mut row, (lease, file)| {
                row.push_bind(lease.id.to_string())
                    .push_bind(lease.fence)
                    .push_bind(i64::from(file.index))
                    .push_bind(&file.name)
                    .push_bind(&file.content_type)
                    .push_bind(file.content.as_ref());
            });
            q.push(
                ") AS v JOIN jobs ON jobs.id = v.column1 AND jobs.fence = v.column2 \
                 AND +jobs.status = 'running' WHERE true RETURNING job_id, idx",
            );
            let rows: Vec<(String, i64)> = q.build_query_as().fetch_all(&mut *conn).await?;
            saved.extend(
                rows.into_iter()
                    .filter_map(|(id, idx)| Some((id.parse().ok()?, u32::try_from(idx).ok()?))),
            );
        }
        Ok(saved)
    }

    async fn clear_files(conn: &mut SqliteConnection, lease: Lease) -> Result<bool, sqlx::Error> {
        if !holds(conn, lease).await? {
            return Ok(false);
        }
        sqlx::query("DELETE FROM job_files WHERE job_id = ?1")
            .bind(lease.id.to_string())
            .execute(&mut *conn)
            .await?;
        Ok(true)
    }
}

impl Reads {
    pub(crate) async fn list_files(&self, id: JobId) -> Result<Vec<FileInfo>> {
        let conn = &self.reader;
        sqlx::query_as::<_, InfoRow>(
            "SELECT idx, name, content_type, size FROM job_files WHERE job_id = ?1 ORDER BY idx",
        )
        .bind(id.to_string())
        .fetch_all(conn)
        .await?
        .into_iter()
        .map(info)
        .collect()
    }

    pub(crate) async fn file_info(&self, id: JobId, name: &str) -> Result<Option<FileInfo>> {
        let conn = &self.reader;
        sqlx::query_as::<_, InfoRow>(
            "SELECT idx, name, content_type, size FROM job_files WHERE job_id = ?1 AND name = ?2",
        )
        .bind(id.to_string())
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
        let conn = &self.pages;
        // substr() of a blob counts bytes, from 1.
        Ok(sqlx::query_scalar(
            "SELECT substr(content, ?3, ?4) FROM job_files WHERE job_id = ?1 AND name = ?2",
        )
        .bind(id.to_string())
        .bind(name)
        .bind(offset as i64 + 1)
        .bind(i64::from(len))
        .fetch_optional(conn)
        .await?)
    }

    /// The files whose index is in `indices`, by index.
    pub(crate) async fn read_files(&self, id: JobId, indices: Range<u32>) -> Result<Vec<FileData>> {
        let conn = &self.pages;
        let rows: Vec<(i64, String, String, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT idx, name, content_type, size, content FROM job_files \
             WHERE job_id = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx",
        )
        .bind(id.to_string())
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
