//! faena: a job-execution service. Jobs are submitted over HTTP, stored durably, claimed by a
//! dispatcher and run on the right executor (a rayon pool for CPU kinds, tokio tasks for I/O
//! kinds) under a deadline, with cancellation. As a library, [`Server::builder`] runs the
//! same service with kinds of one's own ([`Kind`]).
//!
//! The modules, in the order a job meets them:
//!
//! - [`api`]: the HTTP routes (one module per resource), problem+json errors, OpenAPI.
//! - [`job`]: the job as plain data: its id, states, kind name, options, files.
//! - [`kind`]: what a kind is ([`Kind`]), the registry of a server's kinds, the [`kind::Ctl`]
//!   a run gets; [`kinds`]: the five built-in kinds (their kernels are in `faena_kernels`).
//! - [`runtime`]: the one door for state changes ([`runtime::Runtime`]: submit, cancel,
//!   delete, retry), the observer of the store's commits that feeds long-polls, event
//!   streams, metrics and the dispatcher, the runner of one attempt, the rescuer.
//! - [`store`]: the durable queue ([`store::Store`]) on SQLite or PostgreSQL: one writer
//!   task with group commit, whose commits the runtime observes.
//! - [`events`]: the hub of recent job events every event stream reads.
//! - [`app`], [`config`], [`cli`], [`telemetry`]: building and running the server (and, in
//!   [`cli`], the command-line client of its API); [`Server`]: the same, embedded;
//!   [`error_chain`]: an error's causes, as text or by type.

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
mod server;
pub mod store;
pub mod telemetry;

pub use config::Config;
pub use kind::{Ctl, JobClass, Kind, KindError};
pub use server::{Server, ServerBuilder};
