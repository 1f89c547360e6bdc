//! The CPU pool: a dedicated rayon pool, entered from async code through `spawn_blocking` so
//! that no runtime thread ever blocks on a kernel.

use std::sync::Arc;

use tokio::task::JoinError;
use tracing::Span;

/// A rayon pool for CPU-bound kernels.
#[derive(Clone, Debug)]
pub struct CpuPool {
    pool: Arc<rayon::ThreadPool>,
}

impl CpuPool {
    /// A pool of `threads` threads named `faena-cpu-N`.
    pub fn new(threads: usize) -> Result<Self, rayon::ThreadPoolBuildError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("faena-cpu-{i}"))
            .build()?;
        Ok(Self {
            pool: Arc::new(pool),
        })
    }

    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Runs `f` inside the pool and waits for it without blocking the async runtime. A panic
    /// in `f` comes back as a [`JoinError`].
    pub async fn run<F, R>(&self, f: F) -> Result<R, JoinError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let pool = Arc::clone(&self.pool);
        let span = Span::current();
        // The blocking thread only waits for the pool; the work runs on the pool's threads,
        // in the caller's span (the job's), so that what a kernel logs names its job. Work
        // that rayon splits off (par_iter, join) and other threads steal runs without it:
        // kernels log only here, around the whole computation.
        tokio::task::spawn_blocking(move || pool.install(move || span.in_scope(f))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_on_the_pool_and_reports_panics() {
        let pool = CpuPool::new(2).unwrap();
        let name = pool
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("faena-cpu-"));
        let err = pool.run(|| panic!("boom")).await.unwrap_err();
        assert!(err.is_panic());
    }
}
