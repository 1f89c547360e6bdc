//! The claim loop: while a CPU or I/O slot is free, claim that many queued jobs from the store
//! and start a runner for each. It sleeps until a submission or a freed slot wakes it, or the
//! poll interval passes (jobs that became due meanwhile, jobs added by other processes).

use std::sync::Arc;
use std::time::Duration;

use super::{Inner, run};
use crate::job::JobClass;

pub(super) async fn run(rt: Arc<Inner>) {
    let classes = [JobClass::Cpu, JobClass::Io].map(|c| (c, rt.kinds.of_class(c)));
    let mut failures = 0u32;
    // Whether the last wait ended by the poll interval: then look even where the store knows
    // of nothing queued (jobs of other processes, delayed jobs come due).
    let mut polled = true;
    loop {
        if rt.stop_claiming.is_cancelled() {
            return;
        }
        let mut full_batch = false;
        let mut errored = false;
        for (class, kinds) in &classes {
            if kinds.is_empty() || (!polled && rt.store.queue_drained(*class)) {
                continue;
            }
            // Taken before the claim, so that submissions starting their jobs at insert
            // (`start::StartSlot`) cannot use them meanwhile.
            let slots = rt.slots(*class);
            let free = slots.take(usize::MAX);
            if free == 0 {
                continue;
            }
            match rt
                .store
                .claim(*class, kinds, free, &rt.config.instance_id, rt.config.lease)
                .await
            {
                Ok(claimed) => {
                    full_batch |= claimed.len() == free;
                    slots.give_back(free - claimed.len());
                    for c in claimed {
                        rt.tasks.spawn(run::attempt(Arc::clone(&rt), c, *class));
                    }
                }
                Err(err) => {
                    slots.give_back(free);
                    errored = true;
                    write_failed!(error, err, "claiming jobs failed");
                }
            }
        }
        failures = if errored { failures + 1 } else { 0 };
        if full_batch && !errored {
            // Slots filled and more may be waiting: look again once one frees up.
            tokio::task::yield_now().await;
        }
        let wait = if errored {
            // Back off while the database is unhappy, up to 5 s.
            Duration::from_millis(100u64 << failures.min(6)).min(Duration::from_secs(5))
        } else {
            // A delayed job or a retry known here becomes due: look then.
            match rt.until_due() {
                Some(Duration::ZERO) => continue,
                Some(until) => until.min(rt.config.poll_interval),
                None => rt.config.poll_interval,
            }
        };
        polled = tokio::select! {
            () = rt.stop_claiming.cancelled() => return,
            () = rt.wake.notified() => errored,
            () = tokio::time::sleep(wait) => true,
        };
    }
}
