//! [`Dash`]'s HTTP side: requests to the scenario's server as any client sends them (with
//! the scenario's key, if any), to set the scene and to check what the page shows against
//! what the API says.

use std::time::Instant;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::harness::{Dash, PATIENCE};

impl Dash {
    /// An HTTP request to the server (with the key, if any); its status and JSON body
    /// (`null` when it has none).
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method.clone(), self.server.url(path));
        if let Some(key) = &self.key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status();
        let bytes = resp.bytes().await.expect("a body");
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, json)
    }

    /// Submits `body` (must be accepted); the job.
    pub async fn submit(&self, body: Value) -> Value {
        let (status, job) = self.api(Method::POST, "/jobs", Some(body.clone())).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body} -> {job}");
        job
    }

    /// `GET /jobs/{id}?wait_ms=…`.
    pub async fn job(&self, id: &str, wait_ms: u64) -> Value {
        let (status, job) = self
            .api(Method::GET, &format!("/jobs/{id}?wait_ms={wait_ms}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{job}");
        job
    }

    /// Long-polls the job until it is final.
    pub async fn final_job(&self, id: &str) -> Value {
        let started = Instant::now();
        loop {
            let job = self.job(id, 5_000).await;
            if !matches!(job["status"].as_str(), Some("queued" | "running")) {
                return job;
            }
            assert!(started.elapsed() < PATIENCE, "job {id} is still {job}");
        }
    }

    /// The ids of `GET /jobs?{filters}`, newest first (every page); a filter of `name=`
    /// (empty) is left out, as "all".
    pub async fn job_ids(&self, filters: &str) -> Vec<String> {
        let query: String = filters
            .split('&')
            .filter(|pair| !pair.is_empty() && !pair.ends_with('='))
            .map(|pair| format!("&{pair}"))
            .collect();
        let mut ids = Vec::new();
        let mut cursor = String::new();
        loop {
            let path = format!("/jobs?limit=100{query}{cursor}");
            let (status, page) = self.api(Method::GET, &path, None).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let jobs = page["jobs"].as_array().expect("a page of jobs");
            ids.extend(jobs.iter().map(|j| j["id"].as_str().unwrap().to_string()));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => return ids,
            }
        }
    }
}
