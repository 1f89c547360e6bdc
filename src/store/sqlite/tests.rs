//! What only the SQLite store does: the query plan that keeps a claim from scanning finished
//! jobs, and the lock that keeps a second process off the file. The store contract is tested
//! on both databases in `store::tests`.

use std::sync::Arc;

use super::{SqliteOptions, Texts, id_text, jobs, open};
use crate::job::JobId;
use crate::job::test_kind;
use crate::store::RunEnd;
use crate::store::Store;

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/faena.db", dir.path().display());
    let store = open(&url, &SqliteOptions::default(), Default::default())
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn a_claim_reads_only_the_head_of_each_kinds_queue() {
    let (_dir, store) = store().await;
    let mut conn = store.sqlite_reader().acquire().await.unwrap();
    for kinds in [
        &[test_kind("sleep")][..],
        &[test_kind("count_primes"), test_kind("factorial")][..],
    ] {
        let mut q = sqlx::QueryBuilder::new("EXPLAIN QUERY PLAN ");
        let limited: Vec<_> = kinds.iter().map(|&k| (k, 5)).collect();
        jobs::push_claim_candidates(&mut q, &limited, 5, 0);
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
    let second = open(&url, &SqliteOptions::default(), Default::default()).await;
    assert!(
        matches!(second, Err(crate::store::StoreError::Locked(_))),
        "{second:?}"
    );
    drop(store);
    // The lock goes with the store.
    open(&url, &SqliteOptions::default(), Default::default())
        .await
        .expect("the file is free again");
}

/// Pruned jobs give their pages back to the file system: the file shrinks instead of keeping
/// a free list that only grows back.
#[tokio::test]
async fn pruning_gives_pages_back_to_the_file_system() {
    use crate::job::{JobClass, SubmitOptions};
    use crate::store::{NewFile, NewJob, Outcome, Retention, now};

    let (_dir, store) = store().await;
    let pages = |store: &Store| {
        let pool = store.sqlite_reader().clone();
        async move {
            let count: i64 = sqlx::query_scalar("PRAGMA page_count")
                .fetch_one(&pool)
                .await
                .unwrap();
            let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
                .fetch_one(&pool)
                .await
                .unwrap();
            (count, free)
        }
    };
    let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
        .fetch_one(store.sqlite_reader())
        .await
        .unwrap();
    assert_eq!(mode, 2, "incremental auto-vacuum");
    let options = SubmitOptions {
        timeout_ms: 1000,
        priority: 0,
        max_attempts: 1,
        run_after: None,
    };
    for _ in 0..20 {
        store
            .insert(NewJob::new(
                test_kind("sleep"),
                serde_json::json!({"ms": 1}),
                options,
            ))
            .await
            .unwrap();
    }
    let claimed = store
        .claim(
            JobClass::Io,
            &[test_kind("sleep")],
            20,
            "me",
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    for c in &claimed {
        let page = NewFile {
            index: 0,
            name: "00000-page".into(),
            content_type: "text/plain".into(),
            content: bytes::Bytes::from(vec![b'x'; 256 << 10]),
        };
        assert!(store.save_file(c.lease, page).await.unwrap());
        let done = crate::job::JobResult::from_json("{}".into()).unwrap();
        store
            .finish(RunEnd::new(
                c.clone(),
                Outcome::Succeeded(done),
                None,
                now(),
            ))
            .await
            .unwrap();
    }
    let (full, _) = pages(&store).await;
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let all = Retention {
        succeeded: Some(std::time::Duration::ZERO),
        failed: Some(std::time::Duration::ZERO),
        batch: 1000,
    };
    assert_eq!(store.prune(all).await.unwrap(), 20);
    let (after, free) = pages(&store).await;
    assert_eq!(free, 0, "no free pages left behind");
    // 20 pages of 256 KiB went: at least 5 MiB of 4 KiB pages.
    assert!(full - after >= 1200, "{full} pages before, {after} after");
}

#[test]
fn an_id_is_bound_as_the_text_it_has_everywhere() {
    for _ in 0..100 {
        let id = JobId::new();
        assert_eq!(&*id_text(id), id.to_string());
    }
    let nil = JobId::from(uuid::Uuid::nil());
    assert_eq!(&*id_text(nil), "00000000-0000-0000-0000-000000000000");
}

#[test]
fn a_statement_binds_each_name_once() {
    let mut texts = Texts::default();
    let (a, b) = (texts.get("queued"), texts.get("running"));
    assert_eq!((&*a, &*b), ("queued", "running"));
    assert!(Arc::ptr_eq(&a, &texts.get("queued")));
    assert!(!Arc::ptr_eq(&a, &b));
    // Equal text from elsewhere is the same name.
    let owned = String::from("running");
    let leaked: &'static str = Box::leak(owned.into_boxed_str());
    assert!(Arc::ptr_eq(&b, &texts.get(leaked)));
}
