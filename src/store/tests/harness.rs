//! The test harness of the store contract: a fresh store on either database, and the macro
//! that makes a test of each backend from one `async fn(Backend)`.

use std::ops::Deref;
use std::sync::Arc;

use crate::store::Store;
use faena_testing::PgScratch;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A store on a database of its own, which goes when this is dropped (after the store).
pub(crate) struct TestStore {
    store: Arc<Store>,
    _db: Scratch,
}

enum Scratch {
    Sqlite(tempfile::TempDir),
    Postgres(PgScratch),
}

impl Deref for TestStore {
    type Target = Store;

    fn deref(&self) -> &Self::Target {
        &self.store
    }
}

impl TestStore {
    /// How many rows `table` holds.
    pub(crate) async fn count_rows(&self, table: &str) -> i64 {
        use sqlx::Connection;
        let sql = sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}"));
        match &self._db {
            Scratch::Sqlite(dir) => {
                let url = format!("sqlite://{}/faena.db", dir.path().display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
            }
            Scratch::Postgres(scratch) => {
                let mut conn = sqlx::PgConnection::connect(&scratch.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
            }
        }
    }

    /// Records the end of the run holding `lease` (what a runner does, with the job as the
    /// store has it now).
    pub(crate) async fn finish_lease(
        &self,
        lease: crate::store::Lease,
        outcome: crate::store::Outcome,
        progress: Option<crate::job::JobProgress>,
        at: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::Result<bool> {
        let Some(job) = self.get(lease.id).await? else {
            return Ok(false);
        };
        let run = crate::store::Claimed {
            job: job.into(),
            lease,
        };
        let end = crate::store::RunEnd::new(run, outcome, progress, at);
        Ok(self.store.finish(end).await?.is_some())
    }

    /// Another handle on the same store, for spawned tasks.
    pub(crate) fn handle(&self) -> Arc<Store> {
        Arc::clone(&self.store)
    }
}

/// A fresh store on `backend`; `None` when the test must skip (no PostgreSQL configured).
pub(crate) async fn store(backend: Backend, test: &str) -> Option<TestStore> {
    let options = crate::store::StoreOptions {
        // Retries due at once, so that the tests can claim them without waiting.
        backoff: crate::job::Backoff {
            base: std::time::Duration::from_millis(1),
            max: std::time::Duration::from_millis(1),
        },
        ..Default::default()
    };
    Some(match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/faena.db", dir.path().display());
            TestStore {
                store: Arc::new(crate::store::open(&url, &options).await.unwrap()),
                _db: Scratch::Sqlite(dir),
            }
        }
        Backend::Postgres => {
            let scratch = PgScratch::create(test).await?;
            TestStore {
                store: Arc::new(crate::store::open(&scratch.url, &options).await.unwrap()),
                _db: Scratch::Postgres(scratch),
            }
        }
    })
}

/// Makes a `#[tokio::test]` per backend of each `async fn NAME(Backend)` listed.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::store::tests::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::store::tests::Backend::Postgres).await;
                }
            )*
        }
    };
}
