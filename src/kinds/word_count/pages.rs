//! `word_count` over the pages a `fetch_urls` job saved: the pages are read in batches of
//! about 8 MiB, [`READ_AHEAD`] batches at once (each read a task of its own, so that every
//! read keeps going while the others are awaited), while the CPU pool counts the batches
//! already read, in order.
//!
//! The batches are planned up front from the listing of the pages (their sizes), so that reads
//! can start before the ones ahead of them have returned.

use std::collections::VecDeque;
use std::ops::Range;

use tokio_util::task::AbortOnDropHandle;

use super::Output;
use crate::job::{FileData, FileInfo, JobError, JobErrorCode, JobId};
use crate::kind::{Ctl, KindError};
use faena_kernels::word_count::Accumulator;

/// Bytes of saved pages read per batch (plus at most one page).
const BATCH_BYTES: u64 = 8 << 20;
/// Batches read at once, besides the one counted: at most `READ_AHEAD + 1` batches are in
/// memory, and `READ_AHEAD` of the store's reader connections are busy.
const READ_AHEAD: usize = 2;

/// Counts the pages `source` saved. Fails with `input_gone` if the pages go (the source was
/// deleted) before all of them were counted.
pub(super) async fn count(source: JobId, top: usize, ctl: &Ctl) -> Result<Output, KindError> {
    let gone = || {
        KindError::Failed(JobError::new(
            JobErrorCode::InputGone,
            format!("the source job {source} was deleted with its pages"),
        ))
    };
    let listed = match ctl.list_files(source).await {
        Ok(Some(files)) => files,
        Ok(None) => return Err(gone()),
        Err(err) => return Err(KindError::storage("listing the source's pages", &err)),
    };
    ctl.set_total(listed.len() as u64);
    let mut plan = plan_batches(&listed, BATCH_BYTES).into_iter();
    let read = |batch: Range<u32>| {
        let ctl = ctl.clone();
        AbortOnDropHandle::new(tokio::spawn(
            async move { ctl.read_files(source, batch).await },
        ))
    };
    let mut reads: VecDeque<_> = plan.by_ref().take(READ_AHEAD).map(read).collect();
    let mut acc = Accumulator::new(top);
    let mut counted = 0;
    while let Some(batch) = reads.pop_front() {
        let files = match batch.await {
            Ok(Ok(files)) => files,
            Ok(Err(err)) => return Err(KindError::storage("reading the source's pages", &err)),
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        };
        reads.extend(plan.next().map(read));
        counted += files.len();
        acc = ctl.on_cpu(move |k| count_batch(acc, files, k)).await?;
    }
    if counted != listed.len() {
        return Err(gone());
    }
    // Ranking folds and sorts every distinct word: CPU work, on the pool too.
    ctl.on_cpu(move |_| Ok(acc.finish())).await
}

/// Counts one batch into `acc` (on the CPU pool).
fn count_batch(
    mut acc: Accumulator,
    files: Vec<FileData>,
    ctl: &faena_kernels::Ctl,
) -> Result<Accumulator, faena_kernels::Stopped> {
    let names = files.iter().map(|f| f.info.name.clone()).collect();
    let texts: Vec<&[u8]> = files.iter().map(|f| f.content.as_slice()).collect();
    acc.add(names, &texts, ctl)?;
    Ok(acc)
}

/// The batches of `files` (listed by index), as ranges of indices: each takes files as long as
/// the bytes before each stay under `max_bytes`.
fn plan_batches(files: &[FileInfo], max_bytes: u64) -> Vec<Range<u32>> {
    let mut batches: Vec<Range<u32>> = Vec::new();
    let mut bytes = 0;
    for file in files {
        match batches.last_mut() {
            Some(batch) if bytes < max_bytes => batch.end = file.index + 1,
            _ => {
                batches.push(file.index..file.index + 1);
                bytes = 0;
            }
        }
        bytes += file.bytes;
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(sizes: &[u64]) -> Vec<FileInfo> {
        (sizes.iter().enumerate())
            .map(|(i, &size)| FileInfo {
                index: 2 * i as u32,
                name: format!("f{i}"),
                content_type: "text/plain".into(),
                bytes: size,
            })
            .collect()
    }

    #[test]
    fn batches_end_with_the_file_that_crosses_the_budget() {
        let plan = |sizes: &[u64], max_bytes| plan_batches(&files(sizes), max_bytes);
        assert_eq!(plan(&[], 10), vec![]);
        assert_eq!(plan(&[3], 10), vec![0..1]);
        assert_eq!(plan(&[4, 4, 4, 4], 10), vec![0..5, 6..7]);
        assert_eq!(plan(&[20, 1, 9, 1], 10), vec![0..1, 2..5, 6..7]);
        assert_eq!(plan(&[0, 0], 0), vec![0..1, 2..3]);
    }
}
