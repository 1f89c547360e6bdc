//! The Python package's own test suite (`clients/python/tests`, pytest) against this build's
//! binary: the client and the worker (thread, process and async executors, cancel, deadlines,
//! SIGKILL and SIGTERM of worker processes, keys, batches, traceparent) on SQLite and, with
//! `FAENA_TEST_POSTGRES_URL`, on PostgreSQL with two instances.
//!
//! The Python is the one named by `FAENA_TEST_PYTHON`, with the package and its test
//! dependencies installed (`.ci/run` makes one under `target/venv-python-client`). Without it
//! the test prints that it skipped and passes, unless `FAENA_TEST_REQUIRE_PYTHON=1` (set by
//! `.ci/run`), which makes that a failure.

use std::path::Path;
use std::process::Command;

/// The variable naming the Python to run pytest with.
const PYTHON_VAR: &str = "FAENA_TEST_PYTHON";
/// The variable that makes a missing Python a failure.
const REQUIRE_VAR: &str = "FAENA_TEST_REQUIRE_PYTHON";

#[test]
fn the_python_packages_tests_pass_against_this_binary() {
    let Some(python) = std::env::var_os(PYTHON_VAR).filter(|p| !p.is_empty()) else {
        assert!(
            std::env::var(REQUIRE_VAR).as_deref() != Ok("1"),
            "{REQUIRE_VAR}=1 but {PYTHON_VAR} is not set"
        );
        eprintln!(
            "SKIPPED python_client: set {PYTHON_VAR} to a Python with clients/python installed"
        );
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/python");
    let out = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .current_dir(&dir)
        .env("FAENA_BIN", env!("CARGO_BIN_EXE_faena"))
        .output()
        .unwrap_or_else(|e| panic!("running {python:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "pytest failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // The PostgreSQL cases ran when PostgreSQL is required (the conftest fails them otherwise).
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(summary.contains(" passed"), "{summary}");
}
