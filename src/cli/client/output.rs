//! What the client prints: text for people (a job's id, its result as pretty JSON, tables of
//! jobs and files) or, with `--output json`, one JSON document per command for scripts.
//! Data goes to stdout, errors and hints to stderr.

use std::io::Write;

use clap::ValueEnum;
use serde::Serialize;
use serde_json::Value;

use crate::job::Job;
use crate::store::FileInfo;

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// For people.
    Text,
    /// One JSON document (the job, the page of jobs, the file list), for scripts.
    Json,
}

/// Writes `text` to stdout. A closed pipe (`| head`) is not worth a panic or a message.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// `value` as pretty JSON and a newline.
pub fn pretty<T: Serialize + ?Sized>(value: &T) -> String {
    // Serialising a `Job`, a page or a `Value` cannot fail (string keys only).
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// A final job, as `wait` and `submit --wait` show it: the result (text) or the job (JSON).
/// A job that did not succeed says why on stderr.
pub fn final_job(job: &Job, output: Output) {
    match output {
        Output::Json => emit(&pretty(job)),
        Output::Text => {
            if let Some(result) = &job.result {
                let value: Value = serde_json::from_str(result.as_str()).unwrap_or(Value::Null);
                emit(&pretty(&value));
            }
        }
    }
    if job.status != crate::job::JobStatus::Succeeded {
        // `cancelled: cancelled by request` says the code once, `failed (dependency_failed): …`
        // names the code where the status does not.
        let why = job.error.as_ref().map_or_else(String::new, |e| {
            if e.code.as_str() == job.status.as_str() {
                format!(": {}", e.message)
            } else {
                format!(" ({}): {}", e.code.as_str(), e.message)
            }
        });
        eprintln!("faena: job {} {}{why}", job.id, job.status);
    }
}

/// Jobs as an aligned table, newest first as listed.
pub fn job_table(jobs: &[Job]) -> String {
    let header = ["ID", "KIND", "STATUS", "ATTEMPT", "PROGRESS", "CREATED"].map(String::from);
    let rows = jobs.iter().map(|job| {
        [
            job.id.to_string(),
            job.kind.as_str().to_string(),
            job.status.as_str().to_string(),
            format!("{}/{}", job.attempt, job.max_attempts),
            job.progress
                .map_or_else(|| "-".into(), |p| format!("{}/{}", p.done, p.total)),
            job.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        ]
    });
    table(std::iter::once(header).chain(rows).collect())
}

/// Files as an aligned table (name, size in bytes, content type).
pub fn file_table(files: &[FileInfo]) -> String {
    let header = ["NAME", "BYTES", "CONTENT-TYPE"].map(String::from);
    let rows = files
        .iter()
        .map(|f| [f.name.clone(), f.bytes.to_string(), f.content_type.clone()]);
    table(std::iter::once(header).chain(rows).collect())
}

/// The kinds of `GET /kinds` as a table: name, class, summary.
pub fn kind_table(list: &serde_json::Value) -> String {
    let header = ["KIND", "CLASS", "SUMMARY"].map(String::from);
    let field = |k: &serde_json::Value, name: &str| k[name].as_str().unwrap_or("").to_owned();
    let kinds = list["kinds"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let rows = (kinds.iter()).map(|k| [field(k, "name"), field(k, "class"), field(k, "summary")]);
    table(std::iter::once(header).chain(rows).collect())
}

/// Rows padded to the widest cell of each column, two spaces apart; the last column is not
/// padded (no trailing spaces).
fn table<const N: usize>(rows: Vec<[String; N]>) -> String {
    let mut widths = [0; N];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < N {
                text.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            } else {
                text.push_str(cell);
            }
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_without_trailing_spaces() {
        let files = [
            FileInfo {
                index: 0,
                name: "00000-a".into(),
                content_type: "text/plain".into(),
                bytes: 12345,
            },
            FileInfo {
                index: 1,
                name: "00001-example.org-x".into(),
                content_type: "text/html".into(),
                bytes: 7,
            },
        ];
        let want = "NAME                 BYTES  CONTENT-TYPE\n\
                    00000-a              12345  text/plain\n\
                    00001-example.org-x  7      text/html\n";
        assert_eq!(file_table(&files), want);
        assert_eq!(file_table(&[]), "NAME  BYTES  CONTENT-TYPE\n");
    }
}
