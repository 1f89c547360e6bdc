//! `GET /stats` on PostgreSQL: counts by kind and status over `jobs_status_kind_id`, ended
//! jobs by bucket over `jobs_finished`.

use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::store::Result;
use crate::store::stats::{FINAL_STATUSES, StatsQuery, StoreStats, from_rows};

pub(crate) async fn stats(pool: &PgPool, q: &StatsQuery) -> Result<StoreStats> {
    let mut counts = QueryBuilder::<Postgres>::new("SELECT kind, status, count(*)::int8 FROM jobs");
    if let Some(tenant) = &q.tenant {
        counts.push(" WHERE tenant = ").push_bind(tenant.clone());
    }
    counts.push(" GROUP BY status, kind");
    let counts: Vec<(String, String, i64)> = counts.build_query_as().fetch_all(pool).await?;
    let width = (q.bucket.as_millis() as i64).max(1);
    let mut finished =
        QueryBuilder::<Postgres>::new("SELECT floor(extract(epoch FROM finished_at - ");
    finished
        .push_bind(q.since)
        .push(") * 1000 / ")
        .push_bind(width)
        .push(format!(
            ")::int8 AS b, status, count(*)::int8 FROM jobs WHERE status IN {FINAL_STATUSES} \
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
