//! The handle a running kernel holds: a stop flag it polls and a progress counter it
//! advances.
//!
//! Whoever runs the kernel trips the flag ([`Ctl::stop`]) for whatever reason (a deadline, a
//! user's cancel, shutdown); kernels never learn which. They only promise to look at
//! [`Ctl::check`] often (at least every ~10 ms of work) and to return [`Stopped`] soon after it
//! trips.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A kernel stopped early because its run was stopped; the caller knows why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the run was stopped before it finished")]
pub struct Stopped;

/// Progress of one run: `done` units of work out of `total`.
#[derive(Debug, Default)]
pub struct Progress {
    done: AtomicU64,
    total: AtomicU64,
}

impl Progress {
    /// `(done, total)` as last reported; `total == 0` means nothing reported yet.
    pub fn get(&self) -> (u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }
}

/// What a kernel sees of the outside world. Cheap to clone and to share across threads: the
/// clones share one flag and one counter.
#[derive(Debug, Clone, Default)]
pub struct Ctl {
    stop: Arc<AtomicBool>,
    progress: Arc<Progress>,
}

impl Ctl {
    /// Stops the run: every clone's [`Ctl::check`] fails from now on.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// `Err(Stopped)` once the run has been stopped.
    #[inline]
    pub fn check(&self) -> Result<(), Stopped> {
        if self.is_stopped() {
            Err(Stopped)
        } else {
            Ok(())
        }
    }

    /// Whether the run has been stopped.
    #[inline]
    pub fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Declares how many units of work the run has (resets `done` to 0).
    pub fn set_total(&self, total: u64) {
        self.progress.done.store(0, Ordering::Relaxed);
        self.progress.total.store(total, Ordering::Relaxed);
    }

    /// Declares `n` more units of work, for a run made of parts that each declare their own
    /// (`done` is kept).
    pub fn add_total(&self, n: u64) {
        self.progress.total.fetch_add(n, Ordering::Relaxed);
    }

    /// Marks `n` more units of work as done.
    #[inline]
    pub fn advance(&self, n: u64) {
        self.progress.done.fetch_add(n, Ordering::Relaxed);
    }

    /// The shared progress counter, for whoever reports it.
    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }
}

/// For tests of kernels: `work` run on a pool of its own and cancelled midway.
#[cfg(test)]
pub(crate) mod midway {
    use std::thread;
    use std::time::{Duration, Instant};

    use super::{Ctl, Progress};

    /// What [`cancel`] saw.
    pub(crate) struct Cancelled<T> {
        pub result: T,
        /// From the start to the cancel.
        pub waited: Duration,
        /// From the cancel to the return of `work`.
        pub latency: Duration,
        /// Progress when `work` returned.
        pub progress: (u64, u64),
    }

    /// Runs `work` on a 2-thread pool of its own (other tests' work on the global pool cannot
    /// delay it) and cancels its [`Ctl`] once `when(elapsed, progress)` holds (checked every
    /// 5 ms) or after 10 s.
    pub(crate) fn cancel<T: Send>(
        when: impl Fn(Duration, &Progress) -> bool + Send,
        work: impl FnOnce(&Ctl) -> T + Send,
    ) -> Cancelled<T> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("thread pool");
        let ctl = Ctl::default();
        let token = ctl.clone();
        let progress = ctl.progress().clone();
        thread::scope(|scope| {
            let canceller = scope.spawn(move || {
                let started = Instant::now();
                while !when(started.elapsed(), &progress) && started.elapsed().as_secs() < 10 {
                    thread::sleep(Duration::from_millis(5));
                }
                token.stop();
                (started.elapsed(), Instant::now())
            });
            let result = pool.install(|| work(&ctl));
            let returned = Instant::now();
            let (waited, cancelled) = canceller.join().expect("canceller thread");
            Cancelled {
                result,
                waited,
                latency: returned.saturating_duration_since(cancelled),
                progress: ctl.progress().get(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_trips_after_cancel_and_progress_accumulates() {
        let ctl = Ctl::default();
        let token = ctl.clone();
        ctl.set_total(3);
        ctl.advance(1);
        ctl.clone().advance(1);
        assert_eq!(ctl.progress().get(), (2, 3));
        ctl.add_total(2);
        assert_eq!(ctl.progress().get(), (2, 5));
        assert_eq!(ctl.check(), Ok(()));
        token.stop();
        assert_eq!(ctl.check(), Err(Stopped));
        assert!(ctl.is_stopped());
    }
}
