//! `/jobs/{id}/files`: the pages a `fetch_urls` job saved, listed and streamed back from the
//! job store (so any instance serves them).
//!
//! A saved page is someone else's content: it is served as a download (`attachment`),
//! sandboxed and never sniffed, so that a page cannot run script in this API's origin.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::JobIdPath;
use crate::job::JobId;
use crate::store::{FileInfo, JobStore};

/// Bytes read from the store per chunk of a download.
const CHUNK: u32 = 256 * 1024;

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
    params(("id" = String, Path, description = "Job id (UUID)")),
    responses(
        (status = 200, description = "The job's files (none for kinds that save nothing)", body = FileList),
        (status = 400, description = "Id not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_files(
    State(state): State<AppState>,
    JobIdPath(id): JobIdPath,
) -> ApiResult<Json<FileList>> {
    let store = state.runtime.store();
    let files = store.list_files(id).await?;
    if files.is_empty() && store.get(id).await?.is_none() {
        return Err(ApiError::JobNotFound(id));
    }
    Ok(Json(FileList { files }))
}

/// Download one saved file, streamed, with the content type it was served with.
#[utoipa::path(
    get, path = "/jobs/{id}/files/{name}", tag = "files",
    params(
        ("id" = String, Path, description = "Job id (UUID)"),
        ("name" = String, Path, description = "File name, as listed"),
    ),
    responses(
        (status = 200, description = "The file's bytes", content_type = "application/octet-stream"),
        (status = 400, description = "Id not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job or file", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_file(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id: JobId = id
        .parse()
        .map_err(|e: crate::job::InvalidJobId| ApiError::InvalidId(e.to_string()))?;
    let store = state.runtime.store().clone();
    let Some(info) = store.file_info(id, &name).await? else {
        return Err(match store.get(id).await? {
            Some(_) => ApiError::FileNotFound(id, name.chars().take(128).collect()),
            None => ApiError::JobNotFound(id),
        });
    };
    let headers = [
        (header::CONTENT_TYPE, header_value(&info.content_type)),
        (header::CONTENT_LENGTH, HeaderValue::from(info.bytes)),
        (
            header::CONTENT_DISPOSITION,
            header_value(&format!("attachment; filename=\"{}\"", info.name)),
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
    Ok((headers, Body::from_stream(chunks(store, id, info))).into_response())
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// The file's bytes, read from the store a chunk at a time.
fn chunks(
    store: std::sync::Arc<dyn JobStore>,
    id: JobId,
    info: FileInfo,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    futures_util::stream::try_unfold(0u64, move |offset| {
        let store = store.clone();
        let name = info.name.clone();
        let size = info.bytes;
        async move {
            if offset >= size {
                return Ok(None);
            }
            match store.read_file(id, &name, offset, CHUNK).await {
                Ok(Some(chunk)) if !chunk.is_empty() => {
                    let next = offset + chunk.len() as u64;
                    Ok(Some((bytes::Bytes::from(chunk), next)))
                }
                Ok(_) => Err(std::io::Error::other(
                    "the file was deleted while it was read",
                )),
                Err(err) => Err(std::io::Error::other(err)),
            }
        }
    })
}
