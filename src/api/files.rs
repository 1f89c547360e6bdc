//! `/jobs/{id}/files`: the pages a `fetch_urls` job saved, listed and streamed back from the
//! job store (so any instance serves them).
//!
//! A saved page is someone else's content: it is served as a download (`attachment`),
//! sandboxed and never sniffed, so that a page cannot run script in this API's origin.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::Caller;
use super::auth::check_visible;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::JobIdPath;
use super::responses::StoreErrors;
use crate::job::JobId;
use crate::store::FileInfo;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/jobs/{id}/files", get(list_files))
        .route("/jobs/{id}/files/{name}", get(get_file))
}

/// The files of a job.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileList {
    /// By index (the URL's position in `fetch_urls`).
    pub files: Vec<FileInfo>,
}

/// List the files a job saved.
#[utoipa::path(
    get, path = "/jobs/{id}/files", tag = "files",
    params(("id" = JobId, Path, description = "Job id (UUID)")),
    responses(
        (status = 200, description = "The job's files (none for kinds that save nothing)", body = FileList),
        (status = 400, description = "Id not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        StoreErrors,
    )
)]
pub async fn list_files(
    State(state): State<AppState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
) -> ApiResult<Json<FileList>> {
    check_visible(&state, &caller, id).await?;
    let store = state.runtime.store();
    let files = store.list_files(id).await?;
    if files.is_empty() && store.get(id).await?.is_none() {
        return Err(ApiError::JobNotFound(id));
    }
    Ok(Json(FileList { files }))
}

/// Download one saved file, with the content type it was served with, as an attachment.
#[utoipa::path(
    get, path = "/jobs/{id}/files/{name}", tag = "files",
    params(
        ("id" = JobId, Path, description = "Job id (UUID)"),
        ("name" = String, Path, description = "File name, as listed"),
    ),
    responses(
        (status = 200, description = "The file's bytes, with the `Content-Type` the page was served with and `Content-Disposition: attachment`", content_type = "*/*"),
        (status = 400, description = "Id not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job or file", body = Problem, content_type = "application/problem+json"),
        StoreErrors,
    )
)]
pub async fn get_file(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Response> {
    let Path((id, name)) = path.map_err(|_| ApiError::NotFound)?;
    let id: JobId = id
        .parse()
        .map_err(|e: crate::job::InvalidJobId| ApiError::InvalidId(e.to_string()))?;
    check_visible(&state, &caller, id).await?;
    let store = state.runtime.store();
    let Some(info) = store.file_info(id, &name).await? else {
        return Err(match store.get(id).await? {
            Some(_) => ApiError::FileNotFound(id, name.chars().take(128).collect()),
            None => ApiError::JobNotFound(id),
        });
    };
    let headers = [
        (
            header::CONTENT_TYPE,
            header_value(&info.content_type, "application/octet-stream"),
        ),
        (header::CONTENT_LENGTH, HeaderValue::from(info.bytes)),
        (
            header::CONTENT_DISPOSITION,
            header_value(
                &format!("attachment; filename=\"{}\"", info.name),
                "attachment",
            ),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox; default-src 'none'"),
        ),
    ];
    // One read: SQLite loads a whole BLOB to take any part of it, so reading in chunks would
    // read the page once per chunk. Pages are bounded by `--fetch-max-page-bytes`.
    let len = u32::try_from(info.bytes).unwrap_or(u32::MAX);
    let content = store
        .read_file(id, &info.name, 0, len)
        .await?
        .ok_or_else(|| ApiError::FileNotFound(id, info.name.clone()))?;
    Ok((headers, Body::from(content)).into_response())
}

/// `text` as a header value, or `fallback` when it cannot be one.
fn header_value(text: &str, fallback: &'static str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(fallback))
}
