//! Files a job saves (the pages of `fetch_urls`): kept in the job store, next to their job,
//! so that any instance serves them, other jobs can read them (`word_count` over a source
//! job), and they go when the job is deleted.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A file to save, written by a run under its lease.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// Position of the input it comes from (the URL's index); unique within the job.
    pub index: u32,
    /// A safe name: no path separator, derived from the index and the input, never raw input.
    pub name: String,
    pub content_type: String,
    pub content: Bytes,
}

/// A saved file, as `GET /jobs/{id}/files` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileInfo {
    /// Position of the input it comes from (the URL's index in `fetch_urls`).
    pub index: u32,
    pub name: String,
    pub content_type: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// A saved file with its content.
#[derive(Debug, Clone)]
pub struct FileData {
    pub info: FileInfo,
    pub content: Vec<u8>,
}
