//! Black-box tests of the HTTP API: each test starts the whole application on port 0 with a
//! fresh SQLite database and talks to it over a real socket, as a client would. The same
//! tests run on PostgreSQL in `tests/api_postgres.rs`.
//!
//! One module per area; the [`helpers::TestApp`] keeps the tests short.

/// The database of this binary's servers.
const BACKEND: helpers::Backend = helpers::Backend::Sqlite;

mod auth;
mod bad_input;
mod batch;
mod cancel;
mod concurrency;
mod deadline;
mod delete;
mod deps;
mod docs;
mod errors;
mod events;
mod fetch;
mod fetch_files;
mod fetch_guard;
mod fetch_limits;
mod fetch_params;
mod helpers;
mod idempotency;
mod kinds;
mod list;
mod long_poll;
mod malformed;
mod overload;
mod pages;
mod priority;
mod requests;
mod retries;
mod retry;
mod sse;
mod start;
mod stats;
mod submit;
mod ui;
mod word_count;
