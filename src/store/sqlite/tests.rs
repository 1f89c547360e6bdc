//! What only the SQLite store does: the query plan that keeps a claim from scanning finished
//! jobs, and the lock that keeps a second process off the file. The store contract is tested
//! on both databases in `store::tests`.

use super::{SqliteOptions, SqliteStore, open, queries};
use crate::job::JobKind;

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/faena.db", dir.path().display());
    let store = open(&url, &SqliteOptions::default()).await.unwrap();
    (dir, store)
}

#[tokio::test]
async fn a_claim_reads_only_the_head_of_each_kinds_queue() {
    let (_dir, store) = store().await;
    let mut conn = store.reader().acquire().await.unwrap();
    for kinds in [
        &[JobKind::Sleep][..],
        &[JobKind::CountPrimes, JobKind::Factorial][..],
    ] {
        let mut q = sqlx::QueryBuilder::new("EXPLAIN QUERY PLAN ");
        queries::push_claim_candidates(&mut q, kinds, 5, 0);
        let plan: Vec<(i64, i64, i64, String)> =
            q.build_query_as().fetch_all(&mut *conn).await.unwrap();
        let steps: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
        let walks = steps
            .iter()
            .filter(|s| s.starts_with("SEARCH jobs USING INDEX jobs_queued (kind=?)"))
            .count();
        assert_eq!(walks, kinds.len(), "{steps:?}");
        // And never a walk over every job.
        assert!(!steps.iter().any(|s| s.contains("SCAN jobs")), "{steps:?}");
    }
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_database() {
    let (dir, store) = store().await;
    let url = format!("sqlite://{}/faena.db", dir.path().display());
    let second = open(&url, &SqliteOptions::default()).await;
    assert!(
        matches!(second, Err(crate::store::StoreError::Locked(_))),
        "{second:?}"
    );
    drop(store);
    // The lock goes with the store.
    open(&url, &SqliteOptions::default())
        .await
        .expect("the file is free again");
}
