//! What goes wrong: usage errors, error answers (printed as `faena: <status> <code>: …`), a
//! server that is not there, and API keys (sent from `--api-key` or `FAENA_API_KEY`, never
//! printed). All exit 2.

use serde_json::json;

use crate::{Cli, serve};

const KEY: &str = "cli-test-key-0123456789";

#[test]
fn error_answers_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir, &[]);
    let cli = Cli::new(&server);

    let unknown = "01936f0e-7b5a-7cc1-9f0e-2d1c3b4a5f60";
    for command in ["get", "wait", "cancel", "files"] {
        let ran = cli.run(&[command, unknown]).exits(2);
        assert_eq!(
            ran.stderr,
            format!("faena: 404 job_not_found: no job with id {unknown}\n"),
            "{command}"
        );
        assert_eq!(ran.stdout, "");
    }
    let ran = cli.run(&["submit", "nokind"]).exits(2);
    assert!(
        ran.stderr.starts_with("faena: 422 unknown_kind: "),
        "{ran:?}"
    );
    let ran = cli
        .run(&["submit", "factorial", "-p", "numbers=[5,10000001]"])
        .exits(2);
    assert!(
        ran.stderr.starts_with("faena: 422 invalid_params: "),
        "{ran:?}"
    );

    // Refused before anything is sent.
    let ran = cli
        .run(&["submit", "sleep", "-p", "ms=1", "-p", "ms=2"])
        .exits(2);
    assert!(
        ran.stderr.contains("`ms` is given more than once"),
        "{ran:?}"
    );
    for args in [
        &["submit", "sleep", "-p", "ms"][..],
        &["submit", "sleep", "--params", "[1]"],
        &["get", "not-a-uuid"],
        &["submit", "sleep", "--output", "yaml"],
    ] {
        cli.run(args).exits(2);
    }
    // Nothing was stored by any of them.
    let page = cli.run(&["list", "--output", "json"]).exits(0).json();
    assert_eq!(page, json!({"jobs": [], "next_cursor": null}));
}

#[test]
fn a_server_that_is_not_there_exits_2() {
    // A port that was free a moment ago: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let cli = Cli::at(&format!("http://127.0.0.1:{port}"));
    for args in [&["list"][..], &["submit", "sleep", "--wait"]] {
        let ran = cli.run(args).exits(2);
        let want = format!("faena: cannot reach http://127.0.0.1:{port}/: ");
        assert!(ran.stderr.starts_with(&want), "{ran:?}");
        assert_eq!(ran.stdout, "");
    }
    Cli::at("ftp://127.0.0.1/").run(&["list"]).exits(2);
}

#[test]
fn api_keys_come_from_the_flag_or_the_environment_and_are_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir, &["--api-keys", KEY]);
    let cli = Cli::new(&server);

    let ran = cli.run(&["list"]).exits(2);
    assert!(
        ran.stderr.starts_with("faena: 401 unauthorized: "),
        "{ran:?}"
    );
    let wrong = "cli-test-key-wrong-000000";
    let ran = cli.run(&["list", "--api-key", wrong]).exits(2);
    assert!(
        ran.stderr.starts_with("faena: 401 unauthorized: "),
        "{ran:?}"
    );
    assert!(!ran.stderr.contains(wrong), "{ran:?}");

    let ran = cli
        .run(&["submit", "sleep", "-p", "ms=1", "--wait", "--api-key", KEY])
        .exits(0);
    assert_eq!(ran.json(), json!({"slept_ms": 1}));

    let with_env = cli.clone().env("FAENA_API_KEY", KEY);
    let page = with_env.run(&["list", "--output", "json"]).exits(0).json();
    assert_eq!(page["jobs"].as_array().map(Vec::len), Some(1));
    // The key is not in the help either.
    let help = with_env.run(&["list", "--help"]).exits(0);
    assert!(!help.stdout.contains(KEY) && help.stdout.contains("FAENA_API_KEY"));
}
