//! Opening a store by its URL, applying migrations, and showing a URL in logs.

use super::{Result, Store, StoreError, postgres, sqlite};
use crate::job::Backoff;

/// How to open a store.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    pub sqlite: sqlite::SqliteOptions,
    pub postgres: postgres::PgOptions,
    /// When retries run.
    pub backoff: Backoff,
}

/// Opens the store named by `url` (`sqlite:` or `postgres:`) and applies its migrations.
pub async fn open(url: &str, options: &StoreOptions) -> Result<Store> {
    if url.starts_with("sqlite:") {
        sqlite::open(url, &options.sqlite, options.backoff).await
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        postgres::open(url, &options.postgres, options.backoff).await
    } else {
        Err(StoreError::Url(url.chars().take(32).collect()))
    }
}

/// Applies pending migrations to the database at `url`; returns how many are applied in all.
pub async fn migrate(url: &str) -> Result<usize> {
    if url.starts_with("sqlite:") {
        sqlite::migrate(url).await
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        postgres::migrate(url).await
    } else {
        Err(StoreError::Url(url.chars().take(32).collect()))
    }
}

/// `url` without its password, for logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}{path}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod redact_tests {
    #[test]
    fn passwords_are_hidden_and_nothing_else_changes() {
        for (url, shown) in [
            (
                "postgres://u:secret@db:5432/q",
                "postgres://u:***@db:5432/q",
            ),
            ("postgres://u:p@ss@db/q", "postgres://u:***@db/q"),
            ("postgres://u@db/q", "postgres://u@db/q"),
            ("postgres://db/q?user=a", "postgres://db/q?user=a"),
            ("sqlite://data/faena.db", "sqlite://data/faena.db"),
            ("sqlite::memory:", "sqlite::memory:"),
        ] {
            assert_eq!(super::redact(url), shown, "{url}");
        }
    }
}
