//! The command line: `faena serve`, `faena migrate`, `faena bench`, `faena openapi`,
//! `faena healthcheck`, and the client commands (`faena submit`, `get`, `wait`, `cancel`,
//! `list`, `files`).

pub mod bench;
pub mod client;
pub mod healthcheck;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, LogFormat};
use crate::server::fail;

/// faena: a job-execution service.
#[derive(Debug, Parser)]
#[command(name = "faena", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(Box<Config>),
    /// Apply the database migrations and exit.
    Migrate {
        #[arg(
            long,
            env = "FAENA_DATABASE_URL",
            default_value = "sqlite://data/faena.db"
        )]
        database_url: String,
    },
    /// Drive a running server with N jobs from C concurrent clients; print jobs/s and latencies.
    Bench(bench::BenchArgs),
    /// Print the OpenAPI document (YAML).
    Openapi,
    /// Ask a running server whether it is ready (`GET /readyz`); exit 0 if it is, 1 if not:
    /// a container health check with no other tool in the image.
    #[command(alias = "ready")]
    Healthcheck(healthcheck::HealthcheckArgs),
    #[command(flatten)]
    Client(client::Command),
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(config) => serve(*config).await,
        Command::Migrate { database_url } => {
            crate::telemetry::init(LogFormat::Text);
            match crate::store::migrate(&database_url).await {
                Ok(n) => {
                    let shown = crate::store::redact(&database_url);
                    println!("{shown}: {n} migrations applied");
                    ExitCode::SUCCESS
                }
                Err(err) => fail(&err),
            }
        }
        Command::Bench(args) => match bench::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => fail(&err),
        },
        Command::Openapi => {
            print!("{}", crate::api::openapi::yaml());
            ExitCode::SUCCESS
        }
        Command::Healthcheck(args) => healthcheck::run(&args).await,
        Command::Client(command) => client::run(command).await,
    }
}

async fn serve(config: Config) -> ExitCode {
    crate::server::Server::builder()
        .config(config)
        .serve()
        .await
}
