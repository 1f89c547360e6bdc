//! Black-box tests of the HTTP API: each test starts the whole application on port 0 with a
//! fresh SQLite database and talks to it over a real socket, as a client would.
//!
//! One module per area; the [`helpers::TestApp`] keeps the tests short.

mod cancel;
mod concurrency;
mod deadline;
mod delete;
mod docs;
mod errors;
mod helpers;
mod list;
mod long_poll;
mod malformed;
mod priority;
mod requests;
mod submit;
