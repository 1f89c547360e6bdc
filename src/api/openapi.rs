//! The OpenAPI document, generated from the handlers and types (utoipa) and the kind
//! registry (each kind's parameters and result, the names of the kinds), served as
//! `/openapi.yaml` and `/openapi.json`, with Swagger UI at `/docs` (vendored, no CDN).

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use super::AppState;
use super::error::Problem;
use super::{batch, events, files, health, jobs, kinds, limits, metrics, retry, stats, workers};
use crate::events::{DeletedEvent, JobState, ProgressEvent};
use crate::job::{
    AttemptError, FileInfo, Job, JobClass, JobError, JobErrorCode, JobKind, JobProgress, JobStatus,
    SubmitRequest,
};
use crate::kind::Registry;

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
        retry::retry, limits::limits, kinds::kinds, stats::stats, events::events, events::job_events,
        files::list_files, files::get_file,
        workers::claim, workers::heartbeat, workers::answers::complete, workers::answers::fail,
        workers::answers::hand_back, workers::answers::complete_many,
        health::healthz, health::readyz, metrics::scrape
    ),
    components(schemas(
        Job, JobStatus, JobKind, JobClass, JobProgress, JobError, JobErrorCode, AttemptError, SubmitRequest,
        jobs::JobPage, batch::BatchRequest, batch::BatchResponse, batch::BatchItem, batch::StoredJob,
        Problem, limits::LimitsView, limits::TenantLimitsView, kinds::KindList, kinds::KindView, JobState, ProgressEvent, DeletedEvent,
        stats::Stats, stats::StatusCounts, stats::Throughput,
        health::Health, files::FileList, FileInfo,
        workers::ClaimRequest, workers::ClaimResponse, workers::ClaimedJob, workers::HeartbeatRequest,
        workers::HeartbeatResponse, workers::answers::CompleteRequest, workers::answers::FailRequest,
        workers::answers::Failure, workers::answers::HandBackRequest, workers::answers::AnswersRequest,
        workers::answers::Answer, workers::answers::AnswersResponse, workers::answers::AnswerOutcome,
    )),
    tags(
        (name = "jobs", description = "Submit and follow jobs"),
        (name = "files", description = "Pages saved by fetch_urls jobs"),
        (name = "events", description = "Job events as Server-Sent Events"),
        (name = "workers", description = "Remote workers: claim jobs of worker kinds, renew their leases, answer for them"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

/// The document of a server running `kinds`: the routes, and for each enabled kind its
/// parameters (`{Kind}Params`, e.g. `CountPrimesParams`) and result (`{Kind}Result`) among
/// the components, its name among `JobKind`'s values.
pub fn document(kinds: &Registry) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let schemas = &mut doc.components.get_or_insert_with(Default::default).schemas;
    let names: Vec<&str> = kinds.enabled().map(|k| k.name().as_str()).collect();
    let kind = serde_json::json!({
        "type": "string",
        "description": "The name of a job's kind: one of those this server runs (`GET /kinds`).",
        "enum": names,
    });
    let mut add = |name: String, schema: serde_json::Value| {
        if let Ok(schema) = serde_json::from_value(schema) {
            schemas.insert(name, schema);
        }
    };
    add("JobKind".into(), kind);
    for k in kinds.enabled() {
        let camel = camel_case(k.name().as_str());
        add(format!("{camel}Params"), standalone(k.params_schema()));
        add(format!("{camel}Result"), k.output_schema());
    }
    doc
}

/// `schema` if it stands alone among the components; else (a worker kind's schema whose
/// references point into itself, `#/$defs/…`, which mean nothing there) any object, pointing
/// to `GET /kinds`, which serves it whole.
fn standalone(schema: serde_json::Value) -> serde_json::Value {
    fn refers(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(map) => map.iter().any(|(k, v)| k == "$ref" || refers(v)),
            serde_json::Value::Array(items) => items.iter().any(refers),
            _ => false,
        }
    }
    match refers(&schema) {
        false => schema,
        true => serde_json::json!({
            "type": "object",
            "description": "Checked against the kind's JSON Schema, which `GET /kinds` serves.",
        }),
    }
}

/// `count_primes` → `CountPrimes`.
fn camel_case(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// The document of a server running the built-in kinds with their default settings, as YAML:
/// exactly what is committed as `openapi.yaml`.
pub fn yaml() -> String {
    to_yaml(&document(&crate::kinds::Builtins::default_registry()))
}

fn to_yaml(doc: &utoipa::openapi::OpenApi) -> String {
    doc.to_yaml()
        .unwrap_or_else(|e| format!("# failed to render: {e}\n"))
}

pub fn router(kinds: &Registry) -> Router<AppState> {
    let doc = document(kinds);
    // Shared, not copied: every connection gets a copy of every route's handler.
    let yaml = bytes::Bytes::from(to_yaml(&doc));
    let serve_yaml = move || {
        let yaml = yaml.clone();
        async move { ([(header::CONTENT_TYPE, "application/yaml")], yaml).into_response() }
    };
    Router::new()
        .route("/openapi.yaml", get(serve_yaml))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", doc))
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
