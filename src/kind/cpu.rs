//! The CPU pool: rayon pools, entered from async code through `spawn_blocking` so that no
//! runtime thread ever blocks on a kernel.
//!
//! Fairness between jobs is the operating system's: each kernel that runs at once gets a
//! rayon pool of its own (up to `lanes` of them, one per CPU job that may run, built when
//! first needed and kept), all of `threads` threads. Within one rayon pool a job that came
//! second would wait: rayon's threads take the work they split off themselves before work
//! injected from outside, so a small job waited for the end of a big one's (6 s for a
//! `factorial` of `[10]` beside a sieve). In pools of their own, their threads share the cores
//! by the kernel's scheduler, as any two processes would: the small job runs within a time
//! slice, and the big one loses only the small one's CPU time. Callers past `lanes` at once
//! share the least busy pool.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::task::JoinError;
use tracing::Span;

/// Rayon pools for CPU-bound kernels, one per kernel running at once.
#[derive(Clone, Debug)]
pub struct CpuPool {
    lanes: Arc<[Lane]>,
    threads: usize,
}

/// One rayon pool and how many kernels use it now.
#[derive(Debug, Default)]
struct Lane {
    pool: OnceLock<Result<rayon::ThreadPool, String>>,
    users: AtomicUsize,
}

impl CpuPool {
    /// Up to `lanes` pools of `threads` threads each (named `faena-cpu-L-N`), built on first use;
    /// the first is built now, so that a pool that cannot be built fails at start.
    pub fn new(threads: usize, lanes: usize) -> Result<Self, rayon::ThreadPoolBuildError> {
        let lanes: Arc<[Lane]> = (0..lanes.max(1)).map(|_| Lane::default()).collect();
        let first = build(0, threads)?;
        let _ = lanes[0].pool.set(Ok(first));
        Ok(Self { lanes, threads })
    }

    /// Threads of each pool.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` inside a pool of its own (the first free one; the least busy past `lanes`
    /// callers) and waits for it without blocking the async runtime. A panic in `f` comes
    /// back as a [`JoinError`].
    pub async fn run<F, R>(&self, f: F) -> Result<R, JoinError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let lanes = Arc::clone(&self.lanes);
        let threads = self.threads;
        let span = Span::current();
        // The blocking thread only waits for the pool; the work runs on the pool's threads,
        // in the caller's span (the job's), so that what a kernel logs names its job. Work
        // that rayon splits off (par_iter, join) and other threads steal runs without it:
        // kernels log only here, around the whole computation.
        tokio::task::spawn_blocking(move || {
            let index = enter(&lanes);
            let lane = &lanes[index];
            let _user = Leave(&lane.users);
            let built = lane.pool.get_or_init(|| build(index, threads).map_err(|e| e.to_string()));
            match built {
                Ok(pool) => pool.install(move || span.in_scope(f)),
                // Only when threads cannot be made (the process's limit): lane 0 always was.
                Err(err) => {
                    tracing::warn!(lane = index, error = %err, "building a CPU pool failed; sharing the first");
                    match lanes[0].pool.get() {
                        Some(Ok(pool)) => pool.install(move || span.in_scope(f)),
                        _ => span.in_scope(f),
                    }
                }
            }
        })
        .await
    }
}

/// Takes a place in the least busy lane (the first of equals): its index.
fn enter(lanes: &[Lane]) -> usize {
    loop {
        let (index, seen) = (lanes.iter().enumerate())
            .map(|(i, lane)| (i, lane.users.load(Ordering::Acquire)))
            .min_by_key(|&(_, users)| users)
            .unwrap_or((0, 0));
        let users = &lanes[index].users;
        // Two callers that saw the same free lane: one takes it, the other looks again.
        if (users.compare_exchange(seen, seen + 1, Ordering::AcqRel, Ordering::Acquire)).is_ok() {
            return index;
        }
    }
}

fn build(lane: usize, threads: usize) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("faena-cpu-{lane}-{i}"))
        .build()
}

/// Gives a lane's use back when dropped (a panic included).
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn runs_on_the_pool_and_reports_panics() {
        let pool = CpuPool::new(2, 2).unwrap();
        let name = pool
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("faena-cpu-0-"));
        let err = pool.run(|| panic!("boom")).await.unwrap_err();
        assert!(err.is_panic());
        // The panicking run gave its lane back: the next run goes to the first pool again.
        let name = pool
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("faena-cpu-0-"));
    }

    /// Two kernels at once run in two pools: the second starts while the first still holds
    /// every thread of its own (with one pool, it would wait for the first to end).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kernels_running_at_once_each_get_a_pool() {
        let pool = CpuPool::new(1, 2).unwrap();
        let both = Arc::new(Barrier::new(2));
        let first = {
            let both = Arc::clone(&both);
            pool.run(move || {
                both.wait();
                std::thread::current().name().map(str::to_owned)
            })
        };
        let second = {
            let both = Arc::clone(&both);
            pool.run(move || {
                both.wait();
                std::thread::current().name().map(str::to_owned)
            })
        };
        let both_ran = tokio::time::timeout(Duration::from_secs(20), async {
            tokio::join!(first, second)
        });
        let (a, b) = both_ran.await.expect("the second waited for the first");
        let mut names = [a.unwrap().unwrap(), b.unwrap().unwrap()];
        names.sort();
        assert_eq!(names, ["faena-cpu-0-0", "faena-cpu-1-0"]);
    }

    /// Past its lanes, callers share the least busy pool rather than wait for one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_past_the_lanes_share_a_pool() {
        let pool = CpuPool::new(2, 1).unwrap();
        let both = Arc::new(Barrier::new(2));
        let runs = (0..2).map(|_| {
            let both = Arc::clone(&both);
            pool.run(move || both.wait().is_leader())
        });
        let all = tokio::time::timeout(
            Duration::from_secs(20),
            futures_util::future::join_all(runs),
        );
        let leaders = all.await.expect("two threads for two callers");
        let leaders: Vec<bool> = leaders.into_iter().map(Result::unwrap).collect();
        assert_eq!(leaders.iter().filter(|l| **l).count(), 1);
    }
}
