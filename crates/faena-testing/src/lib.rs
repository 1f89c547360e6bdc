//! Test support shared by faena's unit tests and test binaries, and left out of its builds
//! (a dev-dependency): a scratch PostgreSQL schema per test.
//!
//! PostgreSQL tests run against the server named by `FAENA_TEST_POSTGRES_URL` (for example
//! `postgres://postgres@127.0.0.1:5432/test`). Without it they print that they skipped and
//! pass, unless `FAENA_TEST_REQUIRE_POSTGRES=1` (set by `.ci/run`), which turns the skip into a
//! failure.

use std::io::Write;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Executor};

/// The variable naming the PostgreSQL server of the tests.
pub const POSTGRES_URL_VAR: &str = "FAENA_TEST_POSTGRES_URL";
/// The variable that makes a missing PostgreSQL a failure.
pub const REQUIRE_POSTGRES_VAR: &str = "FAENA_TEST_REQUIRE_POSTGRES";

/// A fresh, empty schema on the test PostgreSQL server, dropped (with everything in it, and
/// after ending the sessions still connected to it) when this is dropped. Two tests never see
/// each other's tables or notifications.
#[derive(Debug)]
pub struct PgScratch {
    /// A URL for faena whose `search_path` is the schema.
    pub url: String,
    admin: String,
    schema: String,
}

impl PgScratch {
    /// Creates the schema, or returns `None` after printing that `test` skipped when no
    /// server is configured. Panics when one is required but missing, or unreachable.
    pub async fn create(test: &str) -> Option<Self> {
        let Some(admin) = std::env::var(POSTGRES_URL_VAR)
            .ok()
            .filter(|u| !u.is_empty())
        else {
            if std::env::var(REQUIRE_POSTGRES_VAR).is_ok_and(|v| v == "1") {
                panic!("{test}: {POSTGRES_URL_VAR} is not set but {REQUIRE_POSTGRES_VAR}=1");
            }
            // Straight to stderr: the test harness would capture (and hide) eprintln!.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: no PostgreSQL configured (set {POSTGRES_URL_VAR})"
            );
            return None;
        };
        let schema = format!("faena_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = connect(&admin).await;
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .await
            .unwrap_or_else(|e| panic!("{test}: creating schema {schema}: {e}"));
        let sep = if admin.contains('?') { '&' } else { '?' };
        Some(Self {
            url: format!("{admin}{sep}options[search_path]={schema}&application_name={schema}"),
            admin,
            schema,
        })
    }
}

impl PgScratch {
    /// Ends every session connected through [`PgScratch::url`] (as a database restart or a
    /// network cut would); returns how many.
    pub async fn terminate_sessions(&self) -> usize {
        let mut conn = connect(&self.admin).await;
        let ended = terminate(&mut conn, &self.schema).await;
        let _ = conn.close().await;
        ended.expect("pg_terminate_backend")
    }
}

/// Ends the sessions whose application name is `schema` (those of [`PgScratch::url`]).
async fn terminate(conn: &mut PgConnection, schema: &str) -> Result<usize, sqlx::Error> {
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(schema)
    .fetch_all(conn)
    .await?;
    Ok(ended.into_iter().filter(|&e| e).count())
}

async fn connect(url: &str) -> PgConnection {
    PgConnectOptions::from_str(url)
        .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR}={url} is not a PostgreSQL URL: {e}"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connecting to {POSTGRES_URL_VAR}={url}: {e}"))
}

impl Drop for PgScratch {
    fn drop(&mut self) {
        let (admin, schema) = (self.admin.clone(), self.schema.clone());
        // Drop may run inside a runtime that is shutting down: use a thread of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = connect(&admin).await;
                // A server still running (its test failed, or its runtime cannot run it any
                // more) would hold locks the drop waits for: end its sessions first.
                terminate(&mut conn, &schema).await.ok()?;
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE"
                )))
                .await
                .ok()?;
                conn.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop the test schema {}", self.schema);
        }
    }
}
