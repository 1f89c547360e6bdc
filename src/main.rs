//! The `faena` binary: parses the command line and hands it to the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    faena::cli::run(faena::cli::Cli::parse()).await
}
