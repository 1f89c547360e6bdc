//! `GET /stats` on SQLite: counts by kind and status over `jobs_status_kind_id`, ended jobs
//! by bucket over `jobs_finished` (times are milliseconds).

use sqlx::{QueryBuilder, Sqlite};

use super::Reads;
use crate::store::Result;
use crate::store::stats::{FINAL_STATUSES, StatsQuery, StoreStats, from_rows};

impl Reads {
    pub(crate) async fn stats(&self, q: &StatsQuery) -> Result<StoreStats> {
        let pool = &self.reader;
        let mut counts = QueryBuilder::<Sqlite>::new("SELECT kind, status, count(*) FROM jobs");
        if let Some(tenant) = &q.tenant {
            counts.push(" WHERE tenant = ").push_bind(tenant.clone());
        }
        counts.push(" GROUP BY status, kind");
        let counts: Vec<(String, String, i64)> = counts.build_query_as().fetch_all(pool).await?;
        let since = q.since.timestamp_millis();
        let width = (q.bucket.as_millis() as i64).max(1);
        let mut finished = QueryBuilder::<Sqlite>::new("SELECT (finished_at - ");
        finished
            .push_bind(since)
            .push(") / ")
            .push_bind(width)
            .push(format!(
                " AS b, status, count(*) FROM jobs WHERE status IN {FINAL_STATUSES} \
             AND finished_at IS NOT NULL AND finished_at >= "
            ))
            .push_bind(since);
        if let Some(tenant) = &q.tenant {
            finished.push(" AND tenant = ").push_bind(tenant.clone());
        }
        finished.push(" GROUP BY b, status");
        let finished: Vec<(i64, String, i64)> = finished.build_query_as().fetch_all(pool).await?;
        Ok(from_rows(counts, finished))
    }
}
