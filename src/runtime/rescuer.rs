//! The lease rescuer: every heartbeat period, runs whose lease expired (their runner stopped
//! renewing it) are settled in the store: queued again while attempts remain, else failed with
//! `interrupted`, or cancelled when a cancel is pending. With one process per SQLite file this
//! only catches a runner that died; with instances sharing a database it is how one picks up
//! the work of another that died, within a lease and a heartbeat period of its last renewal.
//! Every instance runs it: a run goes to the first that settles it.

use std::sync::Arc;

use super::Inner;
use crate::job::JobClass;
use crate::store::now;

pub(super) async fn run(rt: Arc<Inner>) {
    let mut tick = tokio::time::interval(rt.config.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            () = rt.stop_claiming.cancelled() => return,
            _ = tick.tick() => {}
        }
        let workers = rt.kinds.of_class(JobClass::Worker);
        match rt.store.time_out_overdue(&workers).await {
            Ok(r) if r.timed_out + r.cancelled > 0 => tracing::warn!(
                timed_out = r.timed_out,
                cancelled = r.cancelled,
                "timed out remote workers' runs past their deadline"
            ),
            Ok(_) => {}
            Err(err) => write_failed!(warn, err, "timing out overdue runs failed"),
        }
        match rt.store.rescue_expired(now(), &rt.running_ids()).await {
            // The observer of the commit tells the long-polls, the event streams and the
            // dispatcher.
            Ok(r) if r.requeued + r.failed + r.cancelled > 0 => tracing::warn!(
                requeued = r.requeued,
                failed = r.failed,
                cancelled = r.cancelled,
                "rescued runs whose lease had expired"
            ),
            Ok(_) => {}
            Err(err) => write_failed!(warn, err, "rescuing expired leases failed"),
        }
    }
}
