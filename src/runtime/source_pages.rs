//! `word_count` over the pages a `fetch_urls` job saved: the pages are read from the store in
//! batches of about 8 MiB, [`READ_AHEAD`] batches at once (each on its own reader connection,
//! as a task of its own, so that every read keeps going while the others are awaited), while
//! the CPU pool counts the batches already read, in order.
//!
//! The batches are planned up front from the listing of the pages (their sizes), so that reads
//! can start before the ones ahead of them have returned.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use tokio_util::task::AbortOnDropHandle;

use super::Inner;
use super::kernel::{KernelEnd, on_pool, storage_failed};
use crate::job::{JobError, JobErrorCode, JobId};
use crate::kinds::{Ctl, Stopped, word_count};
use crate::store::{FileData, FileInfo};

/// Bytes of saved pages read per batch (plus at most one page).
const BATCH_BYTES: u64 = 8 << 20;
/// Batches read at once, besides the one counted: at most `READ_AHEAD + 1` batches are in
/// memory, and `READ_AHEAD` of the store's reader connections are busy.
const READ_AHEAD: usize = 2;

/// Counts the pages `source` saved. Fails with `input_gone` if the pages go (the source was
/// deleted) before all of them were counted.
pub(super) async fn count_source(rt: &Inner, source: JobId, top: usize, ctl: Ctl) -> KernelEnd {
    let store = &rt.store;
    let gone = || {
        KernelEnd::Failed(JobError::new(
            JobErrorCode::InputGone,
            format!("the source job {source} was deleted with its pages"),
        ))
    };
    let listed = match store.list_files(source).await {
        Ok(files) => files,
        Err(err) => return storage_failed("listing the source's pages", &err),
    };
    if listed.is_empty() && matches!(store.get(source).await, Ok(None)) {
        return gone();
    }
    ctl.set_total(listed.len() as u64);
    let mut plan = plan_batches(&listed, BATCH_BYTES).into_iter();
    let read = |batch: Range<u32>| {
        let store = Arc::clone(store);
        AbortOnDropHandle::new(tokio::spawn(async move {
            store.read_files(source, batch).await
        }))
    };
    let mut reads: VecDeque<_> = plan.by_ref().take(READ_AHEAD).map(read).collect();
    let mut acc = word_count::Accumulator::new(top);
    let mut counted = 0;
    while let Some(batch) = reads.pop_front() {
        let files = match batch.await {
            Ok(Ok(files)) => files,
            Ok(Err(err)) => return storage_failed("reading the source's pages", &err),
            Err(err) => return KernelEnd::Crashed(err.to_string()),
        };
        reads.extend(plan.next().map(read));
        counted += files.len();
        acc = match count_batch(rt, acc, files, &ctl).await {
            Ok(Ok(acc)) => acc,
            Ok(Err(Stopped)) => return KernelEnd::Stopped,
            Err(err) => return KernelEnd::Crashed(err.to_string()),
        };
    }
    if counted != listed.len() {
        return gone();
    }
    // Ranking folds and sorts every distinct word: CPU work, on the pool too.
    on_pool(&rt.cpu, move || Ok::<_, Stopped>(acc.finish())).await
}

/// Counts one batch into `acc` on the CPU pool.
async fn count_batch(
    rt: &Inner,
    mut acc: word_count::Accumulator,
    files: Vec<FileData>,
    ctl: &Ctl,
) -> Result<Result<word_count::Accumulator, Stopped>, tokio::task::JoinError> {
    let ctl = ctl.clone();
    rt.cpu
        .run(move || {
            let names = files.iter().map(|f| f.info.name.clone()).collect();
            let texts: Vec<&[u8]> = files.iter().map(|f| f.content.as_slice()).collect();
            acc.add(names, &texts, ctl.kernel()).map(|()| acc)
        })
        .await
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
