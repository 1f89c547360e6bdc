//! Retention: every `prune_every`, deletes the final jobs (and their saved pages) that ended
//! longer ago than their status's retention, a batch at a time so that other writes get
//! through in between. Any number of instances may prune at once.

use std::sync::Arc;

use super::Inner;

pub(super) async fn run(rt: Arc<Inner>) {
    let retention = rt.config.retention;
    loop {
        tokio::select! {
            () = rt.stop_claiming.cancelled() => return,
            () = tokio::time::sleep(rt.config.prune_every) => {}
        }
        let mut pruned = 0;
        loop {
            match rt.store.prune(retention).await {
                Ok(n) => {
                    pruned += n;
                    if n < u64::from(retention.batch) || rt.stop_claiming.is_cancelled() {
                        break;
                    }
                }
                Err(err) => {
                    write_failed!(warn, err, "pruning expired jobs failed");
                    break;
                }
            }
        }
        if pruned > 0 {
            tracing::info!(pruned, "pruned expired final jobs");
        }
    }
}
