//! `faena submit --wait` for each CPU kind and `sleep`: the result printed on stdout as JSON,
//! equal to known values (ground truth, or a naive reference here), and `--output json`.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::{Cli, serve};

/// `submit ARGS --wait`, which must succeed: the result it printed.
fn result_of(cli: &Cli, args: &[&str]) -> Value {
    let ran = cli.run(&[&["submit"], args, &["--wait"]].concat()).exits(0);
    assert_eq!(
        ran.stderr, "",
        "nothing on stderr when stderr is no terminal"
    );
    ran.json()
}

#[test]
fn count_primes_and_factorial_print_known_values() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir, &[]);
    let cli = Cli::new(&server);

    let primes = |start: u64, end: u64| {
        let (start, end) = (format!("start={start}"), format!("end={end}"));
        result_of(&cli, &["count_primes", "-p", &start, "--param", &end])
    };
    assert_eq!(primes(0, 1_000_000), json!({"count": 78_498}));
    assert_eq!(
        primes(1_000_000_000, 1_010_000_000),
        json!({"count": 482_449})
    );

    // `numbers=[…]` is JSON, not a string.
    let got = result_of(&cli, &["factorial", "--param", "numbers=[5,10,0,100]"]);
    let want = json!({"results": [
        {"n": 5, "digits": 3, "trailing_zeros": 1, "leading_digits": "120"},
        {"n": 10, "digits": 7, "trailing_zeros": 2, "leading_digits": "3628800"},
        {"n": 0, "digits": 1, "trailing_zeros": 0, "leading_digits": "1"},
        {"n": 100, "digits": 158, "trailing_zeros": 24, "leading_digits": "93326215443944152681"},
    ]});
    assert_eq!(got, want);
}

#[test]
fn sleep_prints_its_result_and_output_json_the_whole_job() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir, &[]);
    let cli = Cli::new(&server);
    assert_eq!(
        result_of(&cli, &["sleep", "-p", "ms=30"]),
        json!({"slept_ms": 30})
    );

    let ran = cli
        .run(&[
            "submit",
            "sleep",
            "-p",
            "ms=1",
            "--priority",
            "-7",
            "--wait",
            "--output",
            "json",
        ])
        .exits(0);
    let job = ran.json();
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["kind"], "sleep");
    assert_eq!(job["priority"], -7);
    assert_eq!(job["result"], json!({"slept_ms": 1}));
    // The same job as `get` shows it.
    let id = job["id"].as_str().unwrap();
    assert_eq!(cli.run(&["get", id]).exits(0).json(), job);
}

/// Words as Python's `str.split()` finds them.
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
        .filter(|w| !w.is_empty())
        .collect()
}

#[test]
fn word_count_of_inline_texts_matches_a_naive_count() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir, &[]);
    let cli = Cli::new(&server);
    let texts = [
        "  hola\u{a0}mundo\tcruel\n",
        "",
        "\u{3000}a\u{2003}b",
        "To be, or NOT to be:\nto BE\u{1f}x",
    ];
    let params = json!({"texts": texts, "top": 3}).to_string();
    let got = result_of(&cli, &["word_count", "--params", &params]);

    let mut tally: HashMap<String, u64> = HashMap::new();
    for word in texts.iter().flat_map(|t| words(t)) {
        *tally.entry(word.to_lowercase()).or_default() += 1;
    }
    let mut top: Vec<(String, u64)> = tally.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(3);
    let files: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"name": format!("text-{i}"), "words": words(t).len(),
                "lines": t.matches('\n').count(), "bytes": t.len()})
        })
        .collect();
    let want = json!({
        "total_words": texts.iter().map(|t| words(t).len()).sum::<usize>(),
        "total_lines": texts.iter().map(|t| t.matches('\n').count()).sum::<usize>(),
        "total_bytes": texts.iter().map(|t| t.len()).sum::<usize>(),
        "files": files,
        "top_words": top.iter().map(|(w, c)| json!({"word": w, "count": c})).collect::<Vec<_>>(),
    });
    assert_eq!(got, want);
    // The first text is the ground truth's: 3 words.
    assert_eq!(got["files"][0]["words"], 3);
}

#[test]
fn kinds_lists_what_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir, &["--kinds", "sleep,count_primes"]);
    let cli = Cli::new(&server);
    let table = cli.run(&["kinds"]).exits(0).stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with("KIND") && lines[0].contains("CLASS"),
        "{table}"
    );
    assert!(lines[1].starts_with("count_primes  cpu"), "{table}");
    assert!(lines[2].starts_with("sleep         io"), "{table}");
    let json = cli.run(&["kinds", "--output", "json"]).exits(0).json();
    assert_eq!(json["kinds"][1]["name"], "sleep");
    assert_eq!(json["kinds"][1]["params"]["required"], json!(["ms"]));
}
