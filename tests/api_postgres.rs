//! The black-box HTTP API tests of `tests/api`, the same code, with every server on a fresh
//! schema of the test PostgreSQL server (`FAENA_TEST_POSTGRES_URL`; each test prints that it
//! skipped when none is configured, and fails instead with `FAENA_TEST_REQUIRE_POSTGRES=1`).

/// The database of this binary's servers.
const BACKEND: helpers::Backend = helpers::Backend::Postgres;

#[path = "api/auth.rs"]
mod auth;
#[path = "api/bad_input.rs"]
mod bad_input;
#[path = "api/batch.rs"]
mod batch;
#[path = "api/cancel.rs"]
mod cancel;
#[path = "api/concurrency.rs"]
mod concurrency;
#[path = "api/deadline.rs"]
mod deadline;
#[path = "api/delete.rs"]
mod delete;
#[path = "api/deps.rs"]
mod deps;
#[path = "api/docs.rs"]
mod docs;
#[path = "api/errors.rs"]
mod errors;
#[path = "api/events.rs"]
mod events;
#[path = "api/fetch.rs"]
mod fetch;
#[path = "api/fetch_files.rs"]
mod fetch_files;
#[path = "api/fetch_guard.rs"]
mod fetch_guard;
#[path = "api/fetch_limits.rs"]
mod fetch_limits;
#[path = "api/fetch_params.rs"]
mod fetch_params;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/idempotency.rs"]
mod idempotency;
#[path = "api/kinds.rs"]
mod kinds;
#[path = "api/list.rs"]
mod list;
#[path = "api/long_poll.rs"]
mod long_poll;
#[path = "api/malformed.rs"]
mod malformed;
#[path = "api/overload.rs"]
mod overload;
#[path = "api/pages.rs"]
mod pages;
#[path = "api/priority.rs"]
mod priority;
#[path = "api/requests.rs"]
mod requests;
#[path = "api/retries.rs"]
mod retries;
#[path = "api/retry.rs"]
mod retry;
#[path = "api/sse.rs"]
mod sse;
#[path = "api/start.rs"]
mod start;
#[path = "api/stats.rs"]
mod stats;
#[path = "api/submit.rs"]
mod submit;
#[path = "api/word_count.rs"]
mod word_count;
