//! `GET /stats` on PostgreSQL: counts by kind and status over `jobs_status_kind_id`, ended
//! jobs by bucket over `jobs_finished`.

use sqlx::{Postgres, QueryBuilder};

use super::Reads;
use crate::store::Result;
use crate::store::stats::{FINAL_STATUSES, StatsQuery, StoreStats, from_rows};

impl Reads {
    pub(crate) async fn stats(&self, q: &StatsQuery) -> Result<StoreStats> {
        let pool = &self.pool;
        let mut counts =
            QueryBuilder::<Postgres>::new("SELECT kind, status, count(*)::int8 FROM jobs");
        if let Some(tenant) = &q.tenant {
            counts.push(" WHERE tenant = ").push_bind(tenant.clone());
        }
        counts.push(" GROUP BY status, kind");
        let counts: Vec<(String, String, i64)> = counts.build_query_as().fetch_all(pool).await?;
        let width = (q.bucket.as_millis() as i64).max(1);
        // In whole milliseconds first: integer division puts a job that ended on a bucket's
        // edge in that bucket, as on SQLite.
        let mut finished = QueryBuilder::<Postgres>::new(
            "SELECT ((extract(epoch FROM finished_at) * 1000)::int8 - ",
        );
        finished
            .push_bind(q.since.timestamp_millis())
            .push(") / ")
            .push_bind(width)
            .push(format!(
                " AS b, status, count(*)::int8 FROM jobs WHERE status IN {FINAL_STATUSES} \
             AND finished_at IS NOT NULL AND finished_at >= "
            ))
            .push_bind(q.since);
        if let Some(tenant) = &q.tenant {
            finished.push(" AND tenant = ").push_bind(tenant.clone());
        }
        finished.push(" GROUP BY b, status");
        let finished: Vec<(i64, String, i64)> = finished.build_query_as().fetch_all(pool).await?;
        Ok(from_rows(counts, finished))
    }
}
