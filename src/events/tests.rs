//! The hub alone: order, filters, resuming, falling behind, recording only when watched.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::job::{Job, JobKind, JobStatus, test_kind};

fn job(kind: JobKind, status: JobStatus, tenant: Option<&str>) -> Job {
    let at = crate::store::now();
    Job {
        id: JobId::new(),
        kind,
        params: serde_json::json!({"secret": "not in events"}),
        status,
        priority: 0,
        timeout_ms: 1000,
        attempt: 0,
        max_attempts: 1,
        instance: None,
        depends_on: Vec::new(),
        progress: None,
        created_at: at,
        run_after: at,
        started_at: None,
        finished_at: None,
        result: None,
        error: None,
        errors: Vec::new(),
        retry_of: None,
        traceparent: None,
        tenant: tenant.map(str::to_owned),
    }
}

async fn take(hub: &Hub, after: &mut u64, filter: &Filter) -> Vec<Arc<Event>> {
    match tokio::time::timeout(Duration::from_secs(5), hub.next(after, filter, 1000)).await {
        Ok(Batch::Events(events)) => events,
        Ok(other) => panic!("expected events, got {other:?}"),
        Err(_) => panic!("no events within 5 s"),
    }
}

fn seq_of(hub: &Hub, id: &str) -> u64 {
    id.strip_prefix(&hub.boot)
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|n| n.parse().ok())
        .expect("an id of this hub")
}

#[tokio::test]
async fn nothing_is_recorded_until_someone_watches() {
    let hub = Hub::new(100, 10);
    hub.job(&job(test_kind("sleep"), JobStatus::Queued, None));
    assert!(hub.is_empty());
    let (resume, _guard) = hub.subscribe(None).unwrap();
    assert_eq!(resume, Resume::After(0));
    hub.job(&job(test_kind("sleep"), JobStatus::Queued, None));
    assert_eq!(hub.len(), 1);
}

#[tokio::test]
async fn events_come_in_order_and_filtered() {
    let hub = Hub::new(100, 10);
    let (Resume::After(mut after), _guard) = hub.subscribe(None).unwrap() else {
        panic!("a fresh stream resumes nothing")
    };
    let a = job(test_kind("sleep"), JobStatus::Queued, Some("t1"));
    let mut b = job(test_kind("count_primes"), JobStatus::Queued, Some("t2"));
    hub.job(&a);
    hub.job(&b);
    b.status = JobStatus::Running;
    b.attempt = 1;
    hub.job(&b);
    hub.progress(
        Subject {
            id: b.id,
            kind: b.kind,
            tenant: b.tenant.clone(),
        },
        JobProgress { done: 1, total: 4 },
    );
    b.status = JobStatus::Succeeded;
    hub.job(&b);
    hub.deleted(Subject {
        id: b.id,
        kind: b.kind,
        tenant: b.tenant.clone(),
    });

    let mut all_after = after;
    let all = take(&hub, &mut all_after, &Filter::default()).await;
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (after + 1..=after + 6).collect::<Vec<_>>());
    let names: Vec<&str> = all.iter().map(|e| e.kind.name()).collect();
    assert_eq!(names, ["job", "job", "job", "progress", "job", "deleted"]);
    assert_eq!(all[4].status, Some(JobStatus::Succeeded));
    assert!(all[4].last && all[5].last && !all[2].last);
    let data: serde_json::Value = serde_json::from_str(&all[3].data).unwrap();
    assert_eq!(data, serde_json::json!({"id": b.id, "done": 1, "total": 4}));
    let state: serde_json::Value = serde_json::from_str(&all[2].data).unwrap();
    assert_eq!(state["status"], "running");
    assert_eq!(state["id"], b.id.to_string());
    assert!(state.get("params").is_none() && state.get("result").is_none());

    let only = |f: Filter| {
        let hub = Arc::clone(&hub);
        let mut from = after;
        async move {
            take(&hub, &mut from, &f)
                .await
                .iter()
                .map(|e| e.seq - after)
                .collect::<Vec<_>>()
        }
    };
    let kind = Filter {
        kind: Some(test_kind("count_primes")),
        ..Filter::default()
    };
    assert_eq!(only(kind).await, [2, 3, 4, 5, 6]);
    let status = Filter {
        status: Some(JobStatus::Running),
        ..Filter::default()
    };
    assert_eq!(only(status).await, [3]);
    let tenant = Filter {
        tenant: Some("t1".into()),
        ..Filter::default()
    };
    assert_eq!(only(tenant).await, [1]);
    let one = Filter {
        job: Some(b.id),
        ..Filter::default()
    };
    assert_eq!(only(one).await, [2, 3, 4, 5, 6]);
    // The cursor moved past everything looked at, matching or not.
    let mut cursor = after;
    let _ = take(
        &hub,
        &mut cursor,
        &Filter {
            tenant: Some("t1".into()),
            ..Filter::default()
        },
    )
    .await;
    assert_eq!(cursor, after + 6);
    after = all_after;
    assert_eq!(after, seqs[5]);
}

#[tokio::test]
async fn a_waiting_stream_wakes_on_the_next_event() {
    let hub = Hub::new(100, 10);
    let (Resume::After(start), _guard) = hub.subscribe(None).unwrap() else {
        panic!()
    };
    let waiter = {
        let hub = Arc::clone(&hub);
        tokio::spawn(async move {
            let mut after = start;
            take(&hub, &mut after, &Filter::default()).await.len()
        })
    };
    tokio::task::yield_now().await;
    hub.job(&job(test_kind("sleep"), JobStatus::Queued, None));
    assert_eq!(waiter.await.unwrap(), 1);
}

#[tokio::test]
async fn a_last_event_id_resumes_or_resets() {
    let hub = Hub::new(4, 10);
    let (_, _guard) = hub.subscribe(None).unwrap();
    for _ in 0..3 {
        hub.job(&job(test_kind("sleep"), JobStatus::Queued, None));
    }
    // Resuming after the first: the two others come.
    let first = hub.event_id(1);
    let (resume, _g) = hub.subscribe(Some(&first)).unwrap();
    assert_eq!(resume, Resume::After(1));
    // An id of another process, garbage, or one from the future: reload.
    for bad in ["0000-1", "garbage", "", &hub.event_id(99)] {
        let (resume, _g) = hub.subscribe(Some(bad)).unwrap();
        assert_eq!(resume, Resume::Reset(3), "{bad:?}");
    }
    // Three more events push the first two out of a ring of 4.
    for _ in 0..3 {
        hub.job(&job(test_kind("sleep"), JobStatus::Queued, None));
    }
    let (resume, _g) = hub.subscribe(Some(&first)).unwrap();
    assert_eq!(resume, Resume::Reset(6));
    let second = hub.event_id(2);
    assert_eq!(seq_of(&hub, &second), 2);
    let (resume, _g) = hub.subscribe(Some(&second)).unwrap();
    assert_eq!(resume, Resume::After(2), "event 3 is still in the ring");
}

#[tokio::test]
async fn a_stream_that_falls_behind_the_ring_ends() {
    let hub = Hub::new(4, 10);
    let (Resume::After(mut after), _guard) = hub.subscribe(None).unwrap() else {
        panic!()
    };
    for _ in 0..5 {
        hub.job(&job(test_kind("sleep"), JobStatus::Queued, None));
    }
    assert!(matches!(
        hub.next(&mut after, &Filter::default(), 10).await,
        Batch::Overrun
    ));
    assert_eq!(hub.len(), 4, "the ring never grows past its capacity");
}

#[tokio::test]
async fn streams_are_capped_and_counted() {
    let hub = Hub::new(4, 2);
    let a = hub.subscribe(None).unwrap();
    let b = hub.subscribe(None).unwrap();
    assert!(hub.subscribe(None).is_none());
    assert_eq!(hub.streams(), 2);
    drop(a);
    assert_eq!(hub.streams(), 1);
    assert!(hub.subscribe(None).is_some());
    drop(b);
}

#[tokio::test]
async fn closing_ends_waiting_streams() {
    let hub = Hub::new(4, 2);
    let (Resume::After(mut after), _guard) = hub.subscribe(None).unwrap() else {
        panic!()
    };
    let closer = Arc::clone(&hub);
    tokio::spawn(async move { closer.close() });
    assert!(matches!(
        hub.next(&mut after, &Filter::default(), 10).await,
        Batch::Closed
    ));
}

#[tokio::test]
async fn a_stale_state_is_dropped_and_no_progress_follows_the_end() {
    let hub = Hub::new(100, 10);
    let (Resume::After(start), _guard) = hub.subscribe(None).unwrap() else {
        panic!()
    };
    let mut job = job(test_kind("sleep"), JobStatus::Queued, None);
    let queued = job.clone();
    job.status = JobStatus::Running;
    job.attempt = 1;
    let running = job.clone();
    job.status = JobStatus::Succeeded;
    // Read back after another instance's notification, late: the end is recorded already.
    hub.job(&job);
    hub.read_back(&running);
    hub.read_back(&queued);
    let subject = Subject {
        id: job.id,
        kind: job.kind,
        tenant: None,
    };
    hub.progress(subject, JobProgress { done: 1, total: 1 });
    let mut after = start;
    let got = take(&hub, &mut after, &Filter::default()).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].status, Some(JobStatus::Succeeded));

    // A retry: queued again after attempt 1, then attempt 2 runs.
    let mut other = queued.clone();
    other.id = JobId::new();
    hub.job(&other);
    other.status = JobStatus::Running;
    other.attempt = 1;
    hub.job(&other);
    other.status = JobStatus::Queued;
    hub.job(&other);
    other.status = JobStatus::Running;
    other.attempt = 2;
    hub.job(&other);
    hub.job(&other);
    // A hand-back: queued again, the attempt not counted, then run again; a late read-back.
    other.status = JobStatus::Queued;
    other.attempt = 1;
    hub.job(&other);
    other.status = JobStatus::Running;
    other.attempt = 2;
    hub.job(&other);
    other.status = JobStatus::Queued;
    other.attempt = 1;
    hub.read_back(&other);
    let states: Vec<_> = take(&hub, &mut after, &Filter::default())
        .await
        .iter()
        .map(|e| e.status.unwrap())
        .collect();
    use JobStatus::*;
    assert_eq!(states, [Queued, Running, Queued, Running, Queued, Running]);
}

#[tokio::test]
async fn a_gap_ends_every_stream_and_no_earlier_id_resumes() {
    let hub = Hub::new(100, 10);
    let (Resume::After(mut after), _guard) = hub.subscribe(None).unwrap() else {
        panic!()
    };
    hub.job(&job(test_kind("sleep"), JobStatus::Queued, None));
    let seen = take(&hub, &mut after, &Filter::default()).await;
    let id = hub.event_id(seen[0].seq);
    hub.gap();
    assert!(matches!(
        hub.next(&mut after, &Filter::default(), 10).await,
        Batch::Overrun
    ));
    let (resume, _g) = hub.subscribe(Some(&id)).unwrap();
    assert!(matches!(resume, Resume::Reset(_)), "{resume:?}");
}
