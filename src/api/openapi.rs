//! The OpenAPI document, generated from the handlers and types (utoipa), served as
//! `/openapi.yaml` and `/openapi.json`, with Swagger UI at `/docs` (vendored, no CDN).

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use super::AppState;
use super::error::Problem;
use super::{batch, events, files, health, jobs, limits, metrics, retry, stats};
use crate::events::{DeletedEvent, JobState, ProgressEvent};
use crate::job::{
    AttemptError, Job, JobError, JobErrorCode, JobKind, JobProgress, JobStatus, SubmitRequest,
};
use crate::kinds::{count_primes, factorial, fetch_urls, sleep, word_count};
use crate::store::FileInfo;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "faena",
        description = "A job-execution service: submit CPU- and I/O-bound jobs, poll or \
                       long-poll them, cancel them. Errors are RFC 9457 problem documents \
                       with a stable `code`."
    ),
    paths(
        jobs::submit, batch::submit_batch, jobs::get_job, jobs::list, jobs::cancel, jobs::delete_job,
        retry::retry, limits::limits, stats::stats, events::events, events::job_events,
        files::list_files, files::get_file,
        health::healthz, health::readyz, metrics::scrape
    ),
    components(schemas(
        Job, JobStatus, JobKind, JobProgress, JobError, JobErrorCode, AttemptError, SubmitRequest,
        jobs::JobPage, batch::BatchRequest, batch::BatchResponse, batch::BatchItem, batch::StoredJob,
        Problem, limits::LimitsView, JobState, ProgressEvent, DeletedEvent,
        stats::Stats, stats::StatusCounts, stats::Throughput,
        health::Health,
        count_primes::Params, count_primes::Output,
        factorial::Params, factorial::Output, factorial::FactorialFacts,
        sleep::Params, sleep::Output,
        fetch_urls::Params, fetch_urls::Output, fetch_urls::Page, fetch_urls::PageErrorCode,
        word_count::Params, word_count::Output, word_count::FileCounts,
        word_count::WordFrequency, files::FileList, FileInfo,
    )),
    tags(
        (name = "jobs", description = "Submit and follow jobs"),
        (name = "files", description = "Pages saved by fetch_urls jobs"),
        (name = "events", description = "Job events as Server-Sent Events"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

/// The document as YAML, exactly as committed in `openapi.yaml`.
pub fn yaml() -> String {
    ApiDoc::openapi()
        .to_yaml()
        .unwrap_or_else(|e| format!("# failed to render: {e}\n"))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/openapi.yaml",
            get(|| async {
                ([(header::CONTENT_TYPE, "application/yaml")], yaml()).into_response()
            }),
        )
        .merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed `openapi.yaml` is what the code generates. To refresh it after an API
    /// change: `cargo run -- openapi > openapi.yaml`.
    #[test]
    fn committed_openapi_yaml_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == yaml(),
            "openapi.yaml is stale: run `cargo run -- openapi > openapi.yaml`"
        );
    }
}
