//! Tenants take turns: among queued jobs of one kind and priority, a tenant's job goes to the
//! head of the line or one past its tenant's last, so claims alternate between the tenants
//! with jobs in line, whatever their backlog; jobs without a tenant are first come, first
//! served; priority still comes first.

use super::{claim_sleeps, ids, sleep_job};
use crate::job::JobId;
use crate::store::NewJob;
use crate::store::tests::{Backend, TestStore, store};

fn of(tenant: &str, priority: i32) -> NewJob {
    NewJob {
        tenant: Some(tenant.into()),
        ..sleep_job(priority, 3)
    }
}

/// The next `n` claims of one job each, in order (the jobs of one claim start together, in
/// no particular order).
async fn claims(store: &TestStore, n: usize) -> Vec<JobId> {
    let mut order = Vec::new();
    for _ in 0..n {
        order.extend(ids(&claim_sleeps(store, 1).await));
    }
    order
}

async fn insert(store: &TestStore, tenant: &str, n: usize) -> Vec<JobId> {
    let jobs = (0..n).map(|_| of(tenant, 0)).collect();
    let inserted = store.insert_many(jobs).await.unwrap();
    inserted.into_iter().map(|r| r.unwrap().id).collect()
}

async fn a_backlog_does_not_hold_back_another_tenants_jobs(backend: Backend) {
    let Some(store) = store(backend, "a_backlog_does_not_hold_back_another_tenants_jobs").await
    else {
        return;
    };
    let a = insert(&store, "a", 100).await;
    let b = store.insert(of("b", 0)).await.unwrap().id;
    // B's job takes the head's turn, after A's first (older): then A's second.
    assert_eq!(claims(&store, 3).await, [a[0], b, a[1]]);
    // C comes with two while A has 98 left: they alternate from the head on.
    let c = insert(&store, "c", 2).await;
    assert_eq!(claims(&store, 4).await, [a[2], c[0], a[3], c[1]]);
    // One at a time, one by one: B's next job is next too.
    let b2 = store.insert(of("b", 0)).await.unwrap().id;
    assert_eq!(claims(&store, 2).await, [a[4], b2]);
    // A higher priority goes first, whatever the turns.
    let urgent = store.insert(of("a", 5)).await.unwrap().id;
    assert_eq!(claims(&store, 2).await, [urgent, a[5]]);
}

/// Within one transaction too: a batch that holds several tenants' jobs gives each its turns.
async fn one_batch_of_several_tenants_alternates(backend: Backend) {
    let Some(store) = store(backend, "one_batch_of_several_tenants_alternates").await else {
        return;
    };
    let mut jobs: Vec<NewJob> = (0..3).map(|_| of("a", 0)).collect();
    jobs.extend((0..3).map(|_| of("b", 0)));
    let inserted = store.insert_many(jobs).await.unwrap();
    let id = |i: usize| inserted[i].as_ref().unwrap().id;
    let order = claims(&store, 6).await;
    assert_eq!(order, [id(0), id(3), id(1), id(4), id(2), id(5)]);
}

/// Without tenants (no API keys), first come, first served.
async fn jobs_without_a_tenant_keep_their_order(backend: Backend) {
    let Some(store) = store(backend, "jobs_without_a_tenant_keep_their_order").await else {
        return;
    };
    let mut order = Vec::new();
    for _ in 0..5 {
        order.push(store.insert(sleep_job(0, 3)).await.unwrap().id);
    }
    let many = store
        .insert_many((0..3).map(|_| sleep_job(0, 3)).collect())
        .await;
    order.extend(many.unwrap().into_iter().map(|r| r.unwrap().id));
    assert_eq!(claims(&store, 10).await, order);
}

on_both_stores!(
    a_backlog_does_not_hold_back_another_tenants_jobs,
    one_batch_of_several_tenants_alternates,
    jobs_without_a_tenant_keep_their_order,
);
