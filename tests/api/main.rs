//! Black-box tests of the HTTP API: each test starts the whole application on port 0 with a
//! fresh SQLite database and talks to it over a real socket, as a client would. The same
//! tests run on PostgreSQL in `tests/api_postgres.rs`.
//!
//! One module per area; the [`helpers::TestApp`] keeps the tests short.

/// The database of this binary's servers.
const BACKEND: helpers::Backend = helpers::Backend::Sqlite;

#[path = "suite.rs"]
mod suite;
use suite::*;

/// The dashboard's files are served alike whatever the store: on SQLite only.
mod ui;
