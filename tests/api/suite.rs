//! The API suite, run on each store: on SQLite by `tests/api/main.rs`, on PostgreSQL by
//! `tests/api_postgres.rs`, each setting `crate::BACKEND`. A new module of tests goes here,
//! once.

pub(crate) mod auth;
pub(crate) mod bad_input;
pub(crate) mod batch;
pub(crate) mod cancel;
pub(crate) mod concurrency;
pub(crate) mod deadline;
pub(crate) mod delete;
pub(crate) mod deps;
pub(crate) mod docs;
pub(crate) mod errors;
pub(crate) mod events;
pub(crate) mod fairness;
pub(crate) mod fetch;
pub(crate) mod fetch_files;
pub(crate) mod fetch_guard;
pub(crate) mod fetch_limits;
pub(crate) mod fetch_params;
pub(crate) mod helpers;
pub(crate) mod idempotency;
pub(crate) mod kind_limits;
pub(crate) mod kinds;
pub(crate) mod list;
pub(crate) mod long_poll;
pub(crate) mod malformed;
pub(crate) mod overload;
pub(crate) mod pages;
pub(crate) mod priority;
pub(crate) mod quotas;
pub(crate) mod requests;
pub(crate) mod retries;
pub(crate) mod retry;
pub(crate) mod slow_requests;
pub(crate) mod sse;
pub(crate) mod start;
pub(crate) mod stats;
pub(crate) mod submit;
pub(crate) mod word_count;
pub(crate) mod worker_answers;
pub(crate) mod worker_context;
pub(crate) mod workers;
