//! The SQL of saved files on PostgreSQL: fenced writes by the run that saves them (holding
//! its job row until commit, so that a rescue cannot slip in between), reads by anyone.

use std::collections::HashSet;
use std::ops::Range;

use sqlx::{PgConnection, Postgres};
use uuid::Uuid;

use super::uuid;
use crate::job::JobId;
use crate::store::rows::{InfoRow, info};
use crate::store::{FileData, FileInfo, Lease, NewFile, Result};

/// Saves files of running attempts, each only if its lease still holds, in one statement;
/// returns the (job, index) pairs written.
pub(in crate::store::postgres) async fn save_many(
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

pub(in crate::store::postgres) async fn clear(
    conn: &mut PgConnection,
    lease: Lease,
) -> Result<bool, sqlx::Error> {
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

pub(in crate::store::postgres) async fn list<'c, E>(conn: E, id: JobId) -> Result<Vec<FileInfo>>
where
    E: sqlx::Executor<'c, Database = Postgres>,
{
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

pub(in crate::store::postgres) async fn one<'c, E>(
    conn: E,
    id: JobId,
    name: &str,
) -> Result<Option<FileInfo>>
where
    E: sqlx::Executor<'c, Database = Postgres>,
{
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

pub(in crate::store::postgres) async fn read<'c, E>(
    conn: E,
    id: JobId,
    name: &str,
    offset: u64,
    len: u32,
) -> Result<Option<Vec<u8>>>
where
    E: sqlx::Executor<'c, Database = Postgres>,
{
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

/// Whether a file can have this name: PostgreSQL text cannot hold NUL, and binding one is an
/// error, not a mismatch (the name comes from a request path, where `%00` decodes to NUL).
fn storable(name: &str) -> bool {
    !name.contains('\0')
}

/// The files whose index is in `indices`, by index.
pub(in crate::store::postgres) async fn read_many(
    conn: &mut PgConnection,
    id: JobId,
    indices: Range<u32>,
) -> Result<Vec<FileData>> {
    let rows: Vec<(i64, String, String, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT idx, name, content_type, size, content FROM job_files \
         WHERE job_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
    )
    .bind(uuid(id))
    .bind(i64::from(indices.start))
    .bind(i64::from(indices.end))
    .fetch_all(&mut *conn)
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
