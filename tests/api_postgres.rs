//! The black-box HTTP API tests of `tests/api`, the same code, with every server on a fresh
//! schema of the test PostgreSQL server (`FAENA_TEST_POSTGRES_URL`; each test prints that it
//! skipped when none is configured, and fails instead with `FAENA_TEST_REQUIRE_POSTGRES=1`).

/// The database of this binary's servers.
const BACKEND: helpers::Backend = helpers::Backend::Postgres;

#[path = "api/suite.rs"]
mod suite;
use suite::*;
