//! `fetch_urls` through the client against a loopback page server, then `faena files`: the
//! saved pages listed, and downloaded into a directory byte for byte; and a `word_count` of
//! them (`--param source_job=ID`, a string).

use serde_json::{Value, json};

use crate::pages::{PAGE_TYPE, PageServer, TEXT, TEXT_TYPE, page_body};
use crate::{Cli, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetched_pages_are_listed_and_downloaded_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir, &["--fetch-allow-private"]);
    let cli = Cli::new(&server);
    let pages = PageServer::start().await;
    let urls = [
        pages.url("/page/0?bytes=600000"),
        pages.url("/text"),
        pages.url("/status/404"),
        pages.url("/page/5?bytes=0"),
    ];
    let urls = format!("urls={}", json!(urls));
    let job = cli
        .run_async(&[
            "submit",
            "fetch_urls",
            "-p",
            &urls,
            "--wait",
            "--output",
            "json",
        ])
        .await
        .exits(0)
        .json();
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"]["succeeded"], 3);
    assert_eq!(job["result"]["pages"][2]["error"], "http_status");
    let id = job["id"].as_str().unwrap();

    let big = page_body(0, 600_000);
    let saved: [(u32, &str, &str, &[u8]); 3] = [
        (0, "00000-127.0.0.1-page-0", PAGE_TYPE, &big),
        (1, "00001-127.0.0.1-text", TEXT_TYPE, TEXT.as_bytes()),
        (3, "00003-127.0.0.1-page-5", PAGE_TYPE, b""),
    ];
    let want: Vec<Value> = saved
        .iter()
        .map(|(index, name, content_type, body)| {
            json!({"index": index, "name": name, "content_type": content_type, "bytes": body.len()})
        })
        .collect();
    let listed = cli.run_async(&["files", id, "--output", "json"]).await;
    assert_eq!(listed.exits(0).json(), json!({ "files": want }));

    let table = cli.run_async(&["files", id]).await.exits(0).stdout;
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["NAME", "BYTES", "CONTENT-TYPE"]);
    assert_eq!(rows[1], ["00000-127.0.0.1-page-0", "600000", PAGE_TYPE]);
    let text_len = TEXT.len().to_string();
    assert_eq!(
        rows[2],
        [
            "00001-127.0.0.1-text",
            &text_len,
            "text/plain;",
            "charset=utf-8"
        ]
    );
    assert_eq!(rows.len(), 4, "{table}");

    // Into a directory that does not exist yet: one path per line, in the listed order.
    let target = dir.path().join("downloads").join(id);
    let target_arg = target.to_str().unwrap();
    let ran = cli
        .run_async(&["files", id, "--download", target_arg])
        .await
        .exits(0);
    let paths: Vec<String> = saved
        .iter()
        .map(|(_, name, _, _)| format!("{}", target.join(name).display()))
        .collect();
    assert_eq!(ran.stdout, format!("{}\n", paths.join("\n")));
    for ((_, name, _, body), path) in saved.iter().zip(&paths) {
        let got = std::fs::read(path).expect("the downloaded file");
        assert!(
            got == *body,
            "{name}: {} bytes, want {}",
            got.len(),
            body.len()
        );
    }
    let entries = std::fs::read_dir(&target).unwrap().count();
    assert_eq!(entries, saved.len(), "nothing else written");

    // The pages counted by a job that depends on the fetch (a UUID is no JSON: a string).
    let source = format!("source_job={id}");
    let count = cli
        .run_async(&["submit", "word_count", "-p", &source, "--wait"])
        .await
        .exits(0)
        .json();
    let bytes: usize = saved.iter().map(|(_, _, _, body)| body.len()).sum();
    assert_eq!(count["total_bytes"], bytes);
    assert_eq!(count["files"][1]["name"], "00001-127.0.0.1-text");
}
