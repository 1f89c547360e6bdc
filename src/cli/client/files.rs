//! `faena files ID --download DIR`: saves every file a job saved into a local directory.
//!
//! The server makes the names (`00042-example.com-wiki-Python`: index, host and path, never
//! raw input), but a name is still checked to be one plain file name before it is joined to
//! the directory, so that no answer can make the client write outside it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::http::{Client, ClientError, Result};
use crate::job::JobId;
use crate::store::FileInfo;

/// A file written to disk.
#[derive(Debug, Serialize)]
pub struct Saved {
    #[serde(flatten)]
    pub info: FileInfo,
    pub path: PathBuf,
}

/// Downloads every file of `files` into `dir` (created if missing; files of the same name
/// are replaced). Every name is checked before anything is written.
pub async fn download(
    client: &Client,
    id: JobId,
    files: Vec<FileInfo>,
    dir: &Path,
) -> Result<Vec<Saved>> {
    if let Some(bad) = files.iter().find(|f| !is_plain_name(&f.name)) {
        return Err(ClientError::UnsafeName(bad.name.clone()));
    }
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|source| ClientError::Io {
            what: format!("cannot create {}", dir.display()),
            source,
        })?;
    let mut saved = Vec::with_capacity(files.len());
    for info in files {
        let content = client.download(id, &info.name).await?;
        let path = dir.join(&info.name);
        tokio::fs::write(&path, &content)
            .await
            .map_err(|source| ClientError::Io {
                what: format!("cannot write {}", path.display()),
                source,
            })?;
        saved.push(Saved { info, path });
    }
    Ok(saved)
}

/// One component that names a file in the directory itself: not empty, `.` or `..`, and
/// without a separator (of any platform) or a NUL.
fn is_plain_name(name: &str) -> bool {
    !matches!(name, "" | "." | "..") && !name.contains(['/', '\\', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_file_names_are_accepted() {
        assert!(is_plain_name("00000-127.0.0.1-page-1"));
        assert!(is_plain_name("..."));
        for bad in ["", ".", "..", "../x", "a/b", "/etc/passwd", "a\\b", "a\0b"] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
    }
}
