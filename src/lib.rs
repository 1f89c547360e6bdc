//! faena: a job-execution service. Jobs are submitted over HTTP, stored durably, claimed by a
//! dispatcher and run on the right executor (a rayon pool for CPU kinds, tokio tasks for I/O
//! kinds) under a deadline, with cancellation.
//!
//! The modules, in the order a job meets them:
//!
//! - [`api`]: the HTTP routes (one module per resource), problem+json errors, OpenAPI.
//! - [`job`]: the job, its states, its kinds and their typed, validated parameters.
//! - [`store`]: the durable queue ([`store::JobStore`]) on SQLite or PostgreSQL.
//! - [`runtime`]: the dispatcher, the runner of one attempt, the CPU pool, long-poll waiters.
//! - [`kinds`]: the kernels (`count_primes`, `factorial`, `sleep`), pure and cancellable.
//! - [`app`], [`config`], [`cli`], [`telemetry`]: building and running the server (and, in
//!   [`cli`], the command-line client of its API);
//!   [`error_chain`]: an error's causes, as text or by type; [`testing`]: test support.

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod error_chain;
pub mod events;
pub mod job;
pub mod kind;
pub mod kinds;
pub mod runtime;
pub mod store;
pub mod telemetry;
#[doc(hidden)]
pub mod testing;
