//! Saved files: written only under a live lease, read back whole, by range and in bounded
//! batches, and deleted with their job.

use bytes::Bytes;

use super::{Backend, claim_sleeps, sleep_job, store};
use crate::job::JobStatus;
use crate::store::{DeleteResult, Lease, NewFile, Outcome, now};

fn file(index: u32, content: &[u8]) -> NewFile {
    NewFile {
        index,
        name: format!("{index:05}-page"),
        content_type: "text/plain".into(),
        content: Bytes::copy_from_slice(content),
    }
}

/// A claimed sleep job with five files of 100, 200, ... 500 bytes saved under its lease.
async fn job_with_files(store: &super::TestStore) -> (crate::job::Job, Lease, Vec<Vec<u8>>) {
    let job = store.insert(sleep_job(0, 3)).await.unwrap();
    let claimed = claim_sleeps(store, 1).await;
    let lease = claimed[0].lease;
    let contents: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 100 * (i as usize + 1)]).collect();
    for (i, content) in contents.iter().enumerate().rev() {
        assert!(
            store
                .save_file(lease, file(i as u32, content))
                .await
                .unwrap()
        );
    }
    ((*job).clone(), lease, contents)
}

async fn files_are_listed_and_read_whole_by_range_and_in_batches(backend: Backend) {
    let Some(store) = store(
        backend,
        "files_are_listed_and_read_whole_by_range_and_in_batches",
    )
    .await
    else {
        return;
    };
    let (job, _, contents) = job_with_files(&store).await;
    let list = store.list_files(job.id).await.unwrap();
    assert_eq!(
        list.iter().map(|f| f.index).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    assert_eq!(list[2].bytes, 300);
    let info = store
        .file_info(job.id, "00003-page")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((info.index, info.content_type.as_str()), (3, "text/plain"));
    let part = store
        .read_file(job.id, "00004-page", 490, 20)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(part, vec![4u8; 10], "a range clipped at the end");
    assert_eq!(
        store
            .read_file(job.id, "00004-page", 500, 20)
            .await
            .unwrap(),
        Some(vec![])
    );
    assert_eq!(store.read_file(job.id, "nope", 0, 20).await.unwrap(), None);
    // A name no file can have (PostgreSQL text holds no NUL) is simply not there.
    let nul = "00003-page\0";
    assert_eq!(store.file_info(job.id, nul).await.unwrap(), None);
    assert_eq!(store.read_file(job.id, nul, 0, 20).await.unwrap(), None);
    // Batches: the files of a range of indices.
    let batch = store.read_files(job.id, 1..3).await.unwrap();
    assert_eq!(
        batch.iter().map(|f| f.info.index).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(batch[1].content, contents[2]);
    let batch = store.read_files(job.id, 4..100).await.unwrap();
    assert_eq!(batch.iter().map(|f| f.info.index).collect::<Vec<_>>(), [4]);
    assert!(store.read_files(job.id, 5..1000).await.unwrap().is_empty());
    assert!(store.read_files(job.id, 2..2).await.unwrap().is_empty());
}

async fn a_finished_run_saves_nothing_more_and_files_go_with_their_job(backend: Backend) {
    let Some(store) = store(
        backend,
        "a_finished_run_saves_nothing_more_and_files_go_with_their_job",
    )
    .await
    else {
        return;
    };
    let (job, lease, _) = job_with_files(&store).await;
    let done = Outcome::Succeeded(serde_json::json!({}).into());
    assert!(store.finish_lease(lease, done, None, now()).await.unwrap());
    // The run is over: its lease writes nothing more.
    assert!(!store.save_file(lease, file(9, b"late")).await.unwrap());
    assert!(!store.clear_files(lease).await.unwrap());
    assert_eq!(store.list_files(job.id).await.unwrap().len(), 5);
    assert_eq!(
        store.get(job.id).await.unwrap().unwrap().status,
        JobStatus::Succeeded
    );
    assert_eq!(store.delete(job.id).await.unwrap(), DeleteResult::Deleted);
    let left = store.count_rows("job_files").await;
    assert_eq!(left, 0);
}

async fn a_new_attempt_clears_the_files_of_the_last(backend: Backend) {
    let Some(store) = store(backend, "a_new_attempt_clears_the_files_of_the_last").await else {
        return;
    };
    let job = store.insert(sleep_job(0, 3)).await.unwrap();
    let first = claim_sleeps(&store, 1).await[0].lease;
    assert!(store.save_file(first, file(0, b"old")).await.unwrap());
    store.recover_interrupted("me").await.unwrap();
    let second = claim_sleeps(&store, 1).await[0].lease;
    assert!(
        !store.clear_files(first).await.unwrap(),
        "the stale lease clears nothing"
    );
    assert_eq!(store.list_files(job.id).await.unwrap().len(), 1);
    assert!(store.clear_files(second).await.unwrap());
    assert!(store.list_files(job.id).await.unwrap().is_empty());
}

on_both_stores!(
    files_are_listed_and_read_whole_by_range_and_in_batches,
    a_finished_run_saves_nothing_more_and_files_go_with_their_job,
    a_new_attempt_clears_the_files_of_the_last,
);
