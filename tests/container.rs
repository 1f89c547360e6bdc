//! The container image, checked without a container engine: docker/Dockerfile is read
//! statically (unprivileged user, port 8080, /data volume, exec forms, `--locked` release
//! build), then its final stage is run the way Docker would run it: the binary at its image
//! path under a temporary root, exactly the image's ENV (its /data and port 8080 moved into
//! that root and onto a free loopback port), WORKDIR, ENTRYPOINT + CMD, as the image's
//! numeric USER when the test runs as root; then its HEALTHCHECK, one job and a SIGTERM.
//!
//! The binary is `FAENA_TEST_IMAGE_BIN` when set (.ci/run sets it to a build made with the
//! Dockerfile's command), else this test build's `faena`.

#[path = "container/dockerfile.rs"]
mod dockerfile;

use std::collections::BTreeMap;
use std::fs::{self, Permissions};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dockerfile::Stage;
use serde_json::{Value, json};

fn stages() -> Vec<Stage> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docker/Dockerfile");
    dockerfile::parse(&fs::read_to_string(path).expect("docker/Dockerfile"))
}

/// What the final stage tells Docker to run.
struct Image {
    /// USER as numeric `uid:gid` (a name would need the image's /etc/passwd).
    user: (u32, u32),
    env: BTreeMap<String, String>,
    workdir: String,
    volumes: Vec<String>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    healthcheck: Vec<String>,
}

fn image() -> Image {
    let stages = stages();
    let last = stages.last().expect("a stage");
    let exec = |keyword| {
        last.exec_form(keyword)
            .unwrap_or_else(|| panic!("{keyword} must be in exec form (a JSON array)"))
    };
    let user = last.last("USER").expect("a USER");
    let numeric = user
        .split_once(':')
        .and_then(|(u, g)| Some((u.parse().ok()?, g.parse().ok()?)));
    Image {
        user: numeric.unwrap_or_else(|| panic!("USER {user} is not a numeric uid:gid")),
        env: last.env(),
        workdir: last.last("WORKDIR").expect("WORKDIR").to_string(),
        volumes: last.volumes(),
        entrypoint: exec("ENTRYPOINT"),
        cmd: exec("CMD"),
        healthcheck: last.healthcheck().expect("HEALTHCHECK CMD in exec form"),
    }
}

/// The `cargo build` commands of a stage's RUN lines.
fn cargo_builds(stage: &Stage) -> Vec<String> {
    stage
        .all("RUN")
        .into_iter()
        .flat_map(|run| run.split("&&"))
        .map(str::trim)
        .filter(|step| step.starts_with("cargo build"))
        .map(String::from)
        .collect()
}

#[test]
fn the_image_runs_faena_unprivileged_on_8080_with_its_data_on_a_volume() {
    let stages = stages();
    assert_eq!(stages.last().unwrap().all("EXPOSE"), ["8080"]);
    let image = image();
    assert!(
        image.user.0 != 0 && image.user.1 != 0,
        "root: {:?}",
        image.user
    );
    assert_eq!(image.env["FAENA_LISTEN"], "0.0.0.0:8080");
    assert_eq!(image.env["FAENA_DATABASE_URL"], "sqlite:///data/faena.db");
    assert_eq!(image.env["FAENA_LOG_FORMAT"], "json");
    assert!(
        image.volumes.contains(&"/data".to_string()),
        "{:?}",
        image.volumes
    );
    assert_eq!(image.workdir, "/data");
    assert_eq!(image.entrypoint, ["/usr/local/bin/faena"]);
    assert_eq!(image.cmd, ["serve"]);
    assert_eq!(image.healthcheck, ["/usr/local/bin/faena", "healthcheck"]);
}

#[test]
fn the_image_gets_the_locked_release_build_that_ci_hands_to_this_test() {
    let stages = stages();
    let (builder, last) = (&stages[0], stages.last().unwrap());
    let builds = cargo_builds(builder);
    // The dependency layer and the crate's build must agree, or the first one caches nothing.
    assert!(builds.len() >= 2, "{builds:?}");
    assert!(builds.iter().all(|b| b == &builds[0]), "{builds:?}");
    assert!(builds[0].contains("--release") && builds[0].contains("--locked"));
    let ci = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == builds[0]),
        "{} in .ci/run",
        builds[0]
    );

    let workdir = builder.last("WORKDIR").expect("the builder's WORKDIR");
    let copy = format!("--from=build {workdir}/target/release/faena /usr/local/bin/faena");
    assert_eq!(last.all("COPY"), [copy]);
}

/// A throwaway root holding what the image holds: the binary and /data.
struct Root {
    dir: tempfile::TempDir,
    /// The free port standing in for 8080.
    port: u16,
    /// The image's uid and gid, taken on when the test runs as root.
    user: Option<(u32, u32)>,
}

impl Root {
    fn new(image: &Image) -> Root {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("usr/local/bin");
        fs::create_dir_all(&bin).unwrap();
        let from = match std::env::var_os("FAENA_TEST_IMAGE_BIN") {
            Some(path) => PathBuf::from(path),
            None => PathBuf::from(env!("CARGO_BIN_EXE_faena")),
        };
        println!("the image's binary: {}", from.display());
        fs::copy(&from, bin.join("faena")).expect("copying the binary");
        // SAFETY: geteuid has no preconditions and cannot fail.
        let user = (unsafe { libc::geteuid() } == 0).then_some(image.user);
        // The other user must reach the binary and /data, as in the image.
        for path in [
            dir.path(),
            &dir.path().join("usr"),
            &dir.path().join("usr/local"),
            &bin,
        ] {
            fs::set_permissions(path, Permissions::from_mode(0o755)).unwrap();
        }
        let data = dir.path().join("data");
        fs::create_dir(&data).unwrap();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&data, Some(uid), Some(gid)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Root { dir, port, user }
    }

    /// An absolute path of the image, in this root.
    fn path(&self, image_path: &str) -> PathBuf {
        let relative = image_path
            .strip_prefix('/')
            .expect("an absolute image path");
        self.dir.path().join(relative)
    }

    /// An ENV value as it applies here: a path (or `sqlite://` path) under one of the image's
    /// volumes moves into this root, port 8080 becomes the free port.
    fn value(&self, value: &str, volumes: &[String]) -> String {
        let (scheme, path) = match value.strip_prefix("sqlite://") {
            Some(path) => ("sqlite://", path),
            None => ("", value),
        };
        let under = |v: &String| path == v || path.starts_with(&format!("{v}/"));
        if volumes.iter().any(under) {
            return format!("{scheme}{}", self.path(path).display());
        }
        match value.strip_suffix(":8080") {
            Some(host) => format!("{host}:{}", self.port),
            None => value.to_string(),
        }
    }

    /// `argv` of the image, run as Docker would run it: this environment only, in WORKDIR,
    /// as an unprivileged user.
    fn command(&self, argv: &[String], image: &Image, env: &BTreeMap<String, String>) -> Command {
        let mut command = Command::new(self.path(&argv[0]));
        command
            .args(&argv[1..])
            .env_clear()
            .envs(env)
            .current_dir(self.path(&image.workdir));
        if let Some((uid, gid)) = self.user {
            command.uid(uid).gid(gid);
        }
        command
    }
}

/// The server process, killed if the test fails before it stops.
struct Server {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    drain: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(mut command: Command) -> Server {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("faena starts");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let drain = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Server {
            child,
            log,
            drain: Some(drain),
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// SIGTERM, as `docker stop` sends it; the exit status (within `limit`) and every line
    /// the server wrote to stderr.
    fn terminate(mut self, limit: Duration) -> (std::process::ExitStatus, Vec<String>) {
        let pid = i32::try_from(self.child.id()).unwrap();
        // SAFETY: kill has no memory-safety preconditions; pid is our own unreaped child.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0, "kill -TERM");
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit {limit:?} after SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        self.drain.take().unwrap().join().unwrap();
        let lines = std::mem::take(&mut *self.log.lock().unwrap());
        (status, lines)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `GET /readyz` until it answers 200; fails if the server exits or takes 30 s.
async fn until_ready(client: &reqwest::Client, base: &str, server: &mut Server) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(resp) = client.get(format!("{base}/readyz")).send().await
            && resp.status() == reqwest::StatusCode::OK
        {
            return;
        }
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!(
                "faena exited ({status}) before it was ready:\n{}",
                server.log()
            );
        }
        assert!(
            Instant::now() < deadline,
            "not ready in 30 s:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Submits `body` and long-polls the job until it is final.
async fn run_job(client: &reqwest::Client, base: &str, body: Value) -> Value {
    let resp = client
        .post(format!("{base}/jobs"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::ACCEPTED);
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let url = format!("{base}/jobs/{id}?wait_ms=5000");
        let job: Value = client.get(url).send().await.unwrap().json().await.unwrap();
        if !matches!(job["status"].as_str(), Some("queued" | "running")) {
            return job;
        }
        assert!(Instant::now() < deadline, "job still {}", job["status"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faena_runs_as_the_image_runs_it() {
    let image = image();
    let root = Root::new(&image);
    let env: BTreeMap<String, String> = (image.env.iter())
        .map(|(k, v)| (k.clone(), root.value(v, &image.volumes)))
        .collect();
    let db = root.path("/data/faena.db");
    assert_eq!(env["FAENA_LISTEN"], format!("0.0.0.0:{}", root.port));
    assert_eq!(
        env["FAENA_DATABASE_URL"],
        format!("sqlite://{}", db.display())
    );

    let argv = [image.entrypoint.clone(), image.cmd.clone()].concat();
    let mut server = Server::start(root.command(&argv, &image, &env));
    faena::kinds::fetch_urls::client::install_crypto();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = format!("http://127.0.0.1:{}", root.port);
    until_ready(&client, &base, &mut server).await;

    let check = root
        .command(&image.healthcheck, &image, &env)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "HEALTHCHECK: {check:?}\n{}",
        server.log()
    );

    let owner = fs::metadata(&db)
        .expect("the SQLite file under /data")
        .uid();
    if let Some((uid, _)) = root.user {
        assert_eq!(owner, uid, "written by the image's user");
    }
    let body = json!({"kind": "count_primes", "params": {"start": 0, "end": 1_000_000}});
    let job = run_job(&client, &base, body).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"], json!({"count": 78_498}));

    let (status, lines) = server.terminate(Duration::from_secs(5));
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        lines.join("\n")
    );
    assert!(!lines.is_empty());
    for line in &lines {
        let event: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(event.is_object(), "{line}");
    }
    assert!(
        lines.iter().any(|l| l.contains(r#""message":"stopped""#)),
        "{lines:?}"
    );

    let down = root
        .command(&image.healthcheck, &image, &env)
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1), "{down:?}");
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert!(stderr.contains(&base), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}
