//! The client's side of the HTTP API: one typed method per route it uses, over one reqwest
//! client that carries the API key. Problem documents (`application/problem+json`) become
//! [`ClientError::Problem`], so that every failure reads `faena: <status> <code>: <detail>`.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::jobs::JobPage;
use crate::job::{Job, JobId, JobStatus};
use crate::store::FileInfo;

/// How long a request may take beyond the long-poll it asks for.
const REQUEST_SLACK: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors of the client: what the user is told, and the exit code that follows.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot reach {server}: {}", crate::error_chain::text(.source))]
    Connect {
        server: Url,
        #[source]
        source: reqwest::Error,
    },
    #[error("{status} {code}: {detail}")]
    Problem {
        status: u16,
        code: String,
        detail: String,
    },
    #[error("{status}: unexpected answer: {body}")]
    Unexpected { status: u16, body: String },
    #[error("the server lists a file named {0:?}, which is not a plain file name; nothing saved")]
    UnsafeName(String),
    #[error("{what}: {}", crate::error_chain::text(.source))]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// An API key: sent as a bearer token, never shown (not even by `Debug`).
#[derive(Clone)]
pub struct ApiKey(pub String);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(..)")
    }
}

/// The body of a problem answer, as far as the client reads it.
#[derive(Deserialize)]
struct ProblemBody {
    code: String,
    detail: String,
}

/// The answer of `GET /jobs/{id}/files`.
#[derive(Debug, Deserialize)]
pub struct FileList {
    pub files: Vec<FileInfo>,
}

/// What `GET /jobs` filters on.
#[derive(Debug, Default)]
pub struct ListQuery<'a> {
    pub status: Option<JobStatus>,
    pub kind: Option<&'a str>,
    pub limit: Option<u32>,
    pub cursor: Option<&'a str>,
}

/// A connection to one faena server.
pub struct Client {
    http: reqwest::Client,
    server: Url,
    api_key: Option<ApiKey>,
}

impl Client {
    pub fn new(server: Url, api_key: Option<ApiKey>) -> Result<Self> {
        crate::kinds::fetch_urls::client::install_crypto();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|source| ClientError::Connect {
                server: server.clone(),
                source,
            })?;
        Ok(Self {
            http,
            server,
            api_key,
        })
    }

    /// `POST /jobs`.
    pub async fn submit(&self, body: &Value, idempotency_key: Option<&str>) -> Result<Job> {
        let mut req = self.request(Method::POST, &["jobs"], &[]).json(body);
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        self.json(req).await
    }

    /// `GET /jobs/{id}?wait_ms=…`: the job, once final or after `wait`.
    pub async fn get(&self, id: JobId, wait: Duration) -> Result<Job> {
        let wait_ms = wait.as_millis().to_string();
        let req = self
            .request(
                Method::GET,
                &["jobs", &id.to_string()],
                &[("wait_ms", &wait_ms)],
            )
            .timeout(wait + REQUEST_SLACK);
        self.json(req).await
    }

    /// `GET /jobs`: one page.
    pub async fn list(&self, query: &ListQuery<'_>) -> Result<JobPage> {
        let limit = query.limit.map(|l| l.to_string());
        let pairs = [
            ("status", query.status.map(JobStatus::as_str)),
            ("kind", query.kind),
            ("limit", limit.as_deref()),
            ("cursor", query.cursor),
        ];
        let pairs: Vec<(&str, &str)> = pairs
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
        self.json(self.request(Method::GET, &["jobs"], &pairs))
            .await
    }

    /// `GET /kinds`: the kinds the server runs, as it describes them.
    pub async fn kinds(&self) -> Result<Value> {
        self.json(self.request(Method::GET, &["kinds"], &[])).await
    }

    /// `POST /jobs/{id}/cancel`.
    pub async fn cancel(&self, id: JobId) -> Result<Job> {
        let req = self.request(Method::POST, &["jobs", &id.to_string(), "cancel"], &[]);
        self.json(req).await
    }

    /// `GET /jobs/{id}/files`.
    pub async fn files(&self, id: JobId) -> Result<FileList> {
        let req = self.request(Method::GET, &["jobs", &id.to_string(), "files"], &[]);
        self.json(req).await
    }

    /// `GET /jobs/{id}/files/{name}`: the file's bytes.
    pub async fn download(&self, id: JobId, name: &str) -> Result<bytes::Bytes> {
        let req = self.request(Method::GET, &["jobs", &id.to_string(), "files", name], &[]);
        let resp = self.send(req).await?;
        resp.bytes().await.map_err(|e| self.transport(e))
    }

    /// A request to the server's base URL plus `segments` (each one percent-encoded, so a
    /// file name cannot change the path; a base URL with a path prefix keeps it) and `query`.
    fn request(&self, method: Method, segments: &[&str], query: &[(&str, &str)]) -> RequestBuilder {
        let mut url = self.server.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let req = self
            .http
            .request(method, url)
            .timeout(REQUEST_SLACK + REQUEST_SLACK);
        match &self.api_key {
            Some(key) => req.bearer_auth(&key.0),
            None => req,
        }
    }

    async fn json<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T> {
        let resp = self.send(req).await?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| self.transport(e))?;
        serde_json::from_slice(&body).map_err(|_| ClientError::Unexpected {
            status,
            body: excerpt(&body),
        })
    }

    /// Sends `req`; a success answer, or the error its problem document describes.
    async fn send(&self, req: RequestBuilder) -> Result<Response> {
        let resp = req.send().await.map_err(|e| self.transport(e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| self.transport(e))?;
        Err(match serde_json::from_slice::<ProblemBody>(&body) {
            Ok(p) => ClientError::Problem {
                status,
                code: p.code,
                detail: p.detail,
            },
            Err(_) => ClientError::Unexpected {
                status,
                body: excerpt(&body),
            },
        })
    }

    fn transport(&self, source: reqwest::Error) -> ClientError {
        ClientError::Connect {
            server: self.server.clone(),
            source,
        }
    }
}

/// The start of a body that is not what was expected, for the error message.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
