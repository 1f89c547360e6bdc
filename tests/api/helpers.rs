//! [`TestApp`]: the application on a free port with its own temporary database, and typed
//! methods for every route, so that tests read as a sequence of requests and expectations.
//!
//! The database is the test binary's [`crate::BACKEND`]: a SQLite file in a temporary
//! directory, or a fresh schema on the test PostgreSQL server. Without a PostgreSQL server
//! configured, [`TestApp::spawn`] prints that the test skipped and returns `None`.

use std::fmt::Display;
use std::net::SocketAddr;
use std::sync::Once;
use std::time::{Duration, Instant};

use faena::api::jobs::JobPage;
use faena::app::{AppError, Application};
use faena::config::Config;
use faena::job::{Job, JobId, JobStatus};
use faena_testing::PgScratch;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long [`TestApp::wait_final`] and [`TestApp::wait_running`] wait in all.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Held shared by every server, exclusively by a test that measures the whole process (its
/// CPU time) and so must not see other tests' servers at work.
static SERVERS: RwLock<()> = RwLock::const_new(());

/// This test's right to run a server: shared with other tests, or alone. Held, never read.
#[allow(dead_code)]
enum Turn {
    Shared(RwLockReadGuard<'static, ()>),
    Alone(RwLockWriteGuard<'static, ()>),
}

/// Which database the servers of a test binary use.
#[allow(dead_code)] // Each binary uses one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database of one server, deleted when dropped.
#[allow(dead_code)] // Held for its `Drop`.
enum Database {
    Sqlite(TempDir),
    Postgres(PgScratch),
}

impl Database {
    /// A fresh database for `test` and its URL; `None` when the test must skip.
    async fn create(test: &str) -> Option<(Self, String)> {
        Some(match crate::BACKEND {
            Backend::Sqlite => {
                let dir = TempDir::new().expect("a temporary directory");
                let url = format!("sqlite://{}/faena.db", dir.path().display());
                (Self::Sqlite(dir), url)
            }
            Backend::Postgres => {
                let scratch = PgScratch::create(test).await?;
                let url = scratch.url.clone();
                (Self::Postgres(scratch), url)
            }
        })
    }
}

/// A running application and a client for it. Dropping it shuts the server down.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    stop: CancellationToken,
    server: Option<JoinHandle<Result<(), AppError>>>,
    // Dropped after the server has stopped (fields drop after `Drop::drop`).
    _db: Database,
    _turn: Turn,
}

impl TestApp {
    /// The application with its default settings; `None` when the test must skip.
    pub async fn spawn() -> Option<Self> {
        Self::spawn_with(|_| {}).await
    }

    /// The application with settings changed by `tweak`.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Option<Self> {
        let turn = Turn::Shared(SERVERS.read().await);
        Self::start(tweak, turn).await
    }

    /// Like [`TestApp::spawn_with`], but no other test's server runs while this one lives.
    pub async fn spawn_alone_with(tweak: impl FnOnce(&mut Config)) -> Option<Self> {
        let turn = Turn::Alone(SERVERS.write().await);
        Self::start(tweak, turn).await
    }

    async fn start(tweak: impl FnOnce(&mut Config), turn: Turn) -> Option<Self> {
        init_tracing();
        let test = std::thread::current()
            .name()
            .unwrap_or("a test")
            .to_string();
        let (db, url) = Database::create(&test).await?;
        let mut config = Config::with_defaults(url);
        tweak(&mut config);
        let app = Application::build(&config).await.expect("the app builds");
        let addr = app.local_addr();
        let stop = CancellationToken::new();
        let server = tokio::spawn(app.run_until_stopped(stop.clone().cancelled_owned()));
        faena::kinds::fetch_urls::client::install_crypto();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(70))
            .build()
            .expect("a reqwest client");
        Some(Self {
            addr,
            client,
            stop,
            server: Some(server),
            _db: db,
            _turn: turn,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `POST /jobs` with a JSON body.
    pub async fn submit(&self, body: &Value) -> Response {
        self.submit_query("", body).await
    }

    /// `POST /jobs?{query}` with a JSON body.
    pub async fn submit_query(&self, query: &str, body: &Value) -> Response {
        self.client
            .post(self.url(&format!("/jobs?{query}")))
            .json(body)
            .send()
            .await
            .expect("POST /jobs answers")
    }

    /// Submits a job that must be accepted (202); checks its `Location` header.
    pub async fn submit_ok(&self, body: &Value) -> Job {
        let resp = self.submit(body).await;
        let location = resp.headers().get("location").cloned();
        let job: Job = json_of(resp, StatusCode::ACCEPTED).await;
        assert_eq!(
            location.as_ref().and_then(|l| l.to_str().ok()),
            Some(format!("/jobs/{}", job.id).as_str()),
            "Location of the accepted job"
        );
        job
    }

    /// `GET /jobs/{id}`.
    pub async fn get(&self, id: impl Display) -> Response {
        self.call(Method::GET, &format!("/jobs/{id}")).await
    }

    /// `GET /jobs/{id}?wait_ms={ms}`.
    pub async fn get_wait(&self, id: impl Display, ms: u64) -> Response {
        self.call(Method::GET, &format!("/jobs/{id}?wait_ms={ms}"))
            .await
    }

    /// The job as it is now (must exist).
    pub async fn job(&self, id: JobId) -> Job {
        json_of(self.get(id).await, StatusCode::OK).await
    }

    /// Long-polls the job until it is final; fails the test after [`PATIENCE`].
    pub async fn wait_final(&self, id: JobId) -> Job {
        let started = Instant::now();
        loop {
            let left = PATIENCE.saturating_sub(started.elapsed());
            assert!(!left.is_zero(), "job {id} is not final after {PATIENCE:?}");
            let ms = left.as_millis().min(10_000) as u64;
            let job: Job = json_of(self.get_wait(id, ms).await, StatusCode::OK).await;
            if job.is_final() {
                return job;
            }
        }
    }

    /// Waits until the job has left the queue. The API has no long-poll for that (only for
    /// final states), so this polls, every 10 ms, for at most [`PATIENCE`].
    pub async fn wait_running(&self, id: JobId) -> Job {
        let started = Instant::now();
        loop {
            let job = self.job(id).await;
            if job.status != JobStatus::Queued {
                return job;
            }
            assert!(started.elapsed() < PATIENCE, "job {id} still queued");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `POST /jobs/{id}/cancel`.
    pub async fn cancel(&self, id: impl Display) -> Response {
        self.call(Method::POST, &format!("/jobs/{id}/cancel")).await
    }

    /// `DELETE /jobs/{id}`.
    pub async fn delete(&self, id: impl Display) -> Response {
        self.call(Method::DELETE, &format!("/jobs/{id}")).await
    }

    /// `GET /jobs/{id}/files`.
    pub async fn files(&self, id: impl Display) -> Response {
        self.call(Method::GET, &format!("/jobs/{id}/files")).await
    }

    /// `GET /jobs/{id}/files/{name}`, `name` as it goes in the path (percent-encoded).
    pub async fn file(&self, id: impl Display, name: &str) -> Response {
        self.call(Method::GET, &format!("/jobs/{id}/files/{name}"))
            .await
    }

    /// `GET /jobs?{query}`.
    pub async fn list(&self, query: &str) -> Response {
        self.call(Method::GET, &format!("/jobs?{query}")).await
    }

    /// A page of `GET /jobs?{query}` (must be 200).
    pub async fn list_ok(&self, query: &str) -> JobPage {
        json_of(self.list(query).await, StatusCode::OK).await
    }

    /// `{method} {path}` with no body.
    pub async fn call(&self, method: Method, path: &str) -> Response {
        let request = self.client.request(method, self.url(path));
        request.send().await.expect("the server answers")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
        // Wait for the orderly shutdown (which stops every run), so that no CPU kernel
        // outlives its test: dropping the test's runtime would wait for it indefinitely.
        if let Some(server) = self.server.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
            && handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        {
            tokio::task::block_in_place(|| {
                let _ = handle.block_on(tokio::time::timeout(Duration::from_secs(15), server));
            });
        }
    }
}

/// Checks the status and deserialises the body.
pub async fn json_of<T: serde::de::DeserializeOwned>(resp: Response, status: StatusCode) -> T {
    let (got, url) = (resp.status(), resp.url().clone());
    let text = resp.text().await.expect("a body");
    assert_eq!(got, status, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}"))
}

/// Checks that `resp` is an RFC 9457 problem with this status and code; returns the document.
pub async fn problem(resp: Response, status: StatusCode, code: &str) -> Value {
    let content_type = resp.headers().get(CONTENT_TYPE).cloned();
    let doc: Value = json_of(resp, status).await;
    assert_eq!(
        content_type.as_ref().and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{doc}"
    );
    assert_eq!(doc["code"], code, "{doc}");
    assert_eq!(doc["status"], status.as_u16(), "{doc}");
    assert_eq!(doc["type"], format!("urn:faena:problem:{code}"), "{doc}");
    let text = |key: &str| doc[key].as_str().is_some_and(|s| !s.is_empty());
    assert!(text("title") && text("detail"), "{doc}");
    doc
}

/// Like [`problem`], and the problem names `field`.
pub async fn problem_at(resp: Response, status: StatusCode, code: &str, field: &str) -> Value {
    let doc = problem(resp, status, code).await;
    assert_eq!(doc["field"], field, "{doc}");
    doc
}

/// Logs of the server on the test's output when `TEST_LOG` is set (e.g. `TEST_LOG=debug`).
fn init_tracing() {
    static ONCE: Once = Once::new();
    if let Ok(filter) = std::env::var("TEST_LOG") {
        ONCE.call_once(|| {
            let subscriber = tracing_subscriber::fmt().with_env_filter(filter);
            let _ = subscriber.with_test_writer().try_init();
        });
    }
}
