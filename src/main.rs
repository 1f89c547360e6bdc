//! The `faena` binary: parses the command line and hands it to the library.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// jemalloc for the whole process (see Cargo.toml; `faena::runtime` gives its unused pages
/// back after a burst).
#[cfg(all(feature = "jemalloc", target_os = "linux", not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("faena: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(faena::cli::run(faena::cli::Cli::parse()));
    // A kernel still inside one indivisible step at the end of the shutdown grace period must
    // not hold the exit (dropping the runtime would wait for it).
    runtime.shutdown_timeout(Duration::from_millis(500));
    code
}
