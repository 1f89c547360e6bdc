//! A full disk against the real binary: its SQLite file, or its PostgreSQL tables (a
//! tablespace), on a small tmpfs the test mounts and fills. Submissions get `507 storage_full` with `Retry-After` (never a 500), `/readyz`
//! answers 503 while `/healthz` stays 200, the metrics say so, and the log has one line when
//! it begins and one when it ends. Once the filler is deleted the server recovers by itself:
//! ready again, new submissions accepted, and every job it acknowledged runs to the end, also
//! after a SIGKILL.
//!
//! Mounting needs root (or CAP_SYS_ADMIN): without it the tests print SKIPPED, and fail with
//! `FAENA_TEST_REQUIRE_TMPFS=1` (as `.ci/run` sets). The PostgreSQL test also needs the server
//! of `FAENA_TEST_POSTGRES_URL` on this machine, running as the user `postgres`.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::{Connection, Executor};
use support::{Server, final_state, metric};
use tokio::sync::Mutex;

/// Big enough for the server's first files, small enough to fill in a moment.
const TMPFS_SIZE: &str = "8m";

/// A tmpfs mounted on a temporary directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts one owned by `owner` (`uid:gid`), or prints SKIPPED and answers `None` when this
    /// process cannot mount (a failure with `FAENA_TEST_REQUIRE_TMPFS`).
    fn mount(test: &str, owner: Option<&str>) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mut options = format!("size={TMPFS_SIZE},mode=0700");
        if let Some((uid, gid)) = owner.and_then(|o| o.split_once(':')) {
            options.push_str(&format!(",uid={uid},gid={gid}"));
        }
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            assert!(
                std::env::var("FAENA_TEST_REQUIRE_TMPFS").is_err(),
                "{test}: FAENA_TEST_REQUIRE_TMPFS is set but a tmpfs cannot be mounted"
            );
            eprintln!("SKIPPED {test}: mounting a tmpfs needs root");
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a server killed a moment ago may still hold a file open.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes `path` until the file system is full, then gives `leave` bytes back; how many
/// bytes it holds.
fn fill(path: &Path, leave: u64) -> u64 {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0x5a_u8; 64 * 1024];
    let mut written = 0;
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(err) if err.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(err) => panic!("filling the tmpfs: {err}"),
        }
    }
    // The last partial page too, byte by byte, so that not one block is left.
    while file.write(&[0x5a]).is_ok_and(|n| n == 1) {
        written += 1;
    }
    let kept = written.saturating_sub(leave);
    file.set_len(kept).unwrap();
    kept
}

/// `POST /jobs` of a `sleep` job: the status, the body and the `Retry-After` header.
async fn submit(client: &reqwest::Client, server: &Server) -> (u16, Value, Option<String>) {
    let resp = client
        .post(server.url("/jobs"))
        .json(&json!({"kind": "sleep", "params": {"ms": 0}}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = resp.json().await.unwrap();
    if status != 202 {
        assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    }
    (status, body, retry_after)
}

async fn status_of(client: &reqwest::Client, server: &Server, path: &str) -> u16 {
    client
        .get(server.url(path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Waits until `path` answers `want` (at most `limit`).
async fn until_status(client: &reqwest::Client, server: &Server, path: &str, want: u16) {
    let started = Instant::now();
    while status_of(client, server, path).await != want {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{path} never answered {want}:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Submits from 8 tasks until a submission is refused for lack of space; the ids acknowledged
/// and the refusal.
async fn submit_until_full(
    client: &reqwest::Client,
    server: &Arc<Server>,
) -> (Vec<String>, (Value, Option<String>)) {
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let refusal = Arc::new(Mutex::new(None));
    let started = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (client, server) = (client.clone(), Arc::clone(server));
            let (accepted, refusal) = (Arc::clone(&accepted), Arc::clone(&refusal));
            tokio::spawn(async move {
                while refusal.lock().await.is_none() {
                    assert!(started.elapsed() < Duration::from_secs(120), "never full");
                    match submit(&client, &server).await {
                        (202, job, _) => accepted
                            .lock()
                            .await
                            .push(job["id"].as_str().unwrap().into()),
                        (507, problem, retry_after) => {
                            *refusal.lock().await = Some((problem, retry_after));
                        }
                        (status, body, _) => panic!("a submission got {status}: {body}"),
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let accepted = std::mem::take(&mut *accepted.lock().await);
    let refusal = refusal.lock().await.take().unwrap();
    (accepted, refusal)
}

fn count(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_on_a_full_disk_refuses_cleanly_and_recovers() {
    let Some(tmpfs) = Tmpfs::mount("sqlite_on_a_full_disk", None) else {
        return;
    };
    let url = format!("sqlite://{}/faena.db", tmpfs.path().display());
    full_disk(Server::start(&url, &[]), &tmpfs).await;
}

/// faena's tables in a tablespace on the tmpfs (its WAL stays on the server's own disk).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_on_a_full_disk_refuses_cleanly_and_recovers() {
    let test = "postgres_on_a_full_disk";
    let Some(db) = faena_testing::PgScratch::create(test).await else {
        return;
    };
    let admin = std::env::var(faena_testing::POSTGRES_URL_VAR).unwrap();
    let local = ["@127.0.0.1", "@localhost", "@[::1]"]
        .iter()
        .any(|host| admin.contains(host));
    let owner = Command::new("id").args(["-u", "postgres"]).output().ok();
    let group = Command::new("id").args(["-g", "postgres"]).output().ok();
    let (Some(owner), Some(group), true) = (owner, group, local) else {
        eprintln!("SKIPPED {test}: the test server is not on this machine as user postgres");
        return;
    };
    let owner = format!(
        "{}:{}",
        String::from_utf8_lossy(&owner.stdout).trim(),
        String::from_utf8_lossy(&group.stdout).trim()
    );
    let Some(tmpfs) = Tmpfs::mount(test, Some(&owner)) else {
        return;
    };
    let space = format!("faena_full_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    let create = format!(
        "CREATE TABLESPACE {space} LOCATION '{}'",
        tmpfs.path().display()
    );
    conn.execute(sqlx::AssertSqlSafe(create)).await.unwrap();
    let url = format!("{}&options[default_tablespace]={space}", db.url);
    full_disk(Server::start(&url, &[]), &tmpfs).await;
    // The schema first (its tables are the tablespace's), then the tablespace.
    drop(db);
    let dropped = conn
        .execute(sqlx::AssertSqlSafe(format!("DROP TABLESPACE {space}")))
        .await;
    dropped.unwrap();
}

/// Fills `tmpfs`, under `server`'s database, to the last byte: the refusals, readiness,
/// metrics and log while full, then the recovery once the filler is gone, and every job
/// acknowledged run and still there after a SIGKILL.
async fn full_disk(server: Server, tmpfs: &Tmpfs) {
    let server = Arc::new(server);
    faena::kinds::fetch_urls::client::install_crypto();
    let client = reqwest::Client::new();
    assert_eq!(status_of(&client, &server, "/readyz").await, 200);
    // Jobs acknowledged before: some still running while the disk is full, whose ends must
    // wait for room.
    let mut acknowledged = Vec::new();
    for ms in [0, 0, 0, 0, 2_000, 2_000] {
        let job = json!({"kind": "sleep", "params": {"ms": ms}});
        acknowledged.push(
            support::submit(&client, &server, job)
                .await
                .expect("accepted"),
        );
    }
    // Room for a few hundred jobs, then none.
    let filler: PathBuf = tmpfs.path().join("filler");
    let filled = fill(&filler, 256 * 1024);
    assert!(filled > 0);
    let (more, (problem, retry_after)) = submit_until_full(&client, &server).await;
    let before_full = more.len();
    acknowledged.extend(more);
    assert_eq!(problem["code"], "storage_full", "{problem}");
    assert_eq!(problem["status"], 507);
    assert_eq!(retry_after.as_deref(), Some("5"));

    // While full: not ready, yet alive, and saying so in the metrics; reads still answer.
    until_status(&client, &server, "/readyz", 503).await;
    assert_eq!(status_of(&client, &server, "/healthz").await, 200);
    assert_eq!(metric(&client, &server, "faena_storage_full").await, 1.0);
    assert!(metric(&client, &server, "faena_storage_full_writes_total").await >= 1.0);
    for id in acknowledged.iter().rev().take(20) {
        assert_eq!(
            status_of(&client, &server, &format!("/jobs/{id}")).await,
            200
        );
    }
    // The writer's probes keep failing while nothing is freed: still not ready a few of them later.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(status_of(&client, &server, "/readyz").await, 503);
    for _ in 0..20 {
        let (status, body, _) = submit(&client, &server).await;
        match status {
            202 => acknowledged.push(body["id"].as_str().unwrap().into()),
            507 => assert_eq!(body["code"], "storage_full"),
            _ => panic!("a submission got {status}: {body}"),
        }
    }

    // Space comes back: ready again by itself, and submissions are accepted.
    std::fs::remove_file(&filler).unwrap();
    until_status(&client, &server, "/readyz", 200).await;
    assert_eq!(metric(&client, &server, "faena_storage_full").await, 0.0);
    for _ in 0..50 {
        let (status, body, _) = submit(&client, &server).await;
        assert_eq!(status, 202, "{body}");
        acknowledged.push(body["id"].as_str().unwrap().into());
    }
    for id in &acknowledged {
        let job = final_state(&client, &server, id, Duration::from_secs(60)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
    }

    let log = server.log();
    assert_eq!(count(&log, "has no room to write (disk full)"), 1, "{log}");
    assert_eq!(count(&log, "has room to write again"), 1, "{log}");
    assert_eq!(count(&log, "internal error"), 0, "{log}");
    assert_eq!(count(&log, "a batch of writes failed"), 0, "{log}");
    println!(
        "filled {filled} bytes; {before_full} jobs acknowledged until full, {} in all, all \
         succeeded",
        acknowledged.len()
    );

    // Nothing acknowledged is lost to a crash either.
    let mut server = Arc::into_inner(server).expect("the only handle");
    server.kill();
    let server = server.relaunch();
    for id in &acknowledged {
        let job = final_state(&client, &server, id, Duration::from_secs(10)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
    }
}
