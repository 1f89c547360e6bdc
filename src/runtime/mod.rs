//! Running jobs: the dispatcher that claims queued jobs while slots are free, the runner of
//! one attempt (deadline, cancel, heartbeat, finish), the CPU pool and the long-poll waiters.
//!
//! [`Runtime`] is the handle the API holds. Stopping is one mechanism: every attempt has a
//! cancellation token, and a deadline, a user cancel and shutdown all trip it after recording
//! why ([`StopReason`]); the runner turns the reason into the job's final (or re-queued) state.

/// Logs a failed write of the store at `$level`, or at debug when it failed for lack of space:
/// the store logs that once when it begins and once when it ends (`store::room`), not once per
/// write.
macro_rules! write_failed {
    ($level:ident, $err:expr, $($rest:tt)+) => {
        if $err.is_storage_full() {
            tracing::debug!(error = ?$err, $($rest)+)
        } else {
            tracing::$level!(error = ?$err, $($rest)+)
        }
    };
}

mod dispatcher;
mod kernel;
mod memory;
mod observer;
mod pruner;
mod publish;
mod queue_cap;
mod quotas;
mod rescuer;
mod run;
mod runs;
mod start;
mod submit;
pub mod waiters;
pub mod workers;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::events::Hub;
use crate::job::{JobClass, JobId, JobProgress};
use crate::kind::{CpuPool, Registry};
use crate::store::{CancelResult, DeleteResult, Result, Retention, Store};
use queue_cap::{QueueCap, TenantCaps};
pub use quotas::{Rate, StreamPlace, TenantLimits};
use quotas::{RateLimiter, TenantStreams};
pub use runs::StopReason;
use runs::{RunHandle, Runs, Slots};
use start::StartSlot;
pub use submit::SubmitError;
pub use waiters::Waiters;
pub use workers::{Renewed, WorkerAnswer, WorkerEnd, WorkerError, WorkerJob};

/// How the runtime runs jobs.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Name of this instance, recorded as the owner of the jobs it runs.
    pub instance_id: String,
    /// CPU-class jobs running at once.
    pub max_cpu_jobs: usize,
    /// I/O-class jobs running at once.
    pub max_io_jobs: usize,
    /// How long a claim holds a job without a heartbeat.
    pub lease: Duration,
    /// How often a run renews its lease, and how often expired leases are looked for.
    pub heartbeat: Duration,
    /// How long a remote worker's claim holds a job without a heartbeat.
    pub worker_lease: Duration,
    /// How often the dispatcher looks at the queue when nothing wakes it.
    pub poll_interval: Duration,
    /// Most jobs queued (waiting included) before submissions are refused; 0: no cap.
    pub max_queued: u64,
    /// How often the number of queued jobs is counted (for the queue cap); `None`: never.
    pub count_queued_every: Option<Duration>,
    /// How long final jobs are kept.
    pub retention: Retention,
    /// How often expired jobs are pruned.
    pub prune_every: Duration,
    /// Events kept for event streams (see [`crate::events::Hub`]).
    pub event_buffer: usize,
    /// Most event streams open at once.
    pub max_event_streams: usize,
    /// What one tenant (API key) may use.
    pub tenants: TenantLimits,
    /// Most jobs of a kind running at once, all instances (`--kind-concurrency`).
    pub kind_concurrency: crate::store::KindConcurrency,
}

struct Inner {
    store: Arc<Store>,
    cpu: CpuPool,
    /// The kinds: what runs a job; which this instance claims (the enabled ones).
    kinds: Arc<Registry>,
    config: RuntimeConfig,
    waiters: Waiters,
    running: Mutex<Runs>,
    cpu_slots: Slots,
    io_slots: Slots,
    /// Always full: jobs of worker kinds run on remote workers.
    worker_slots: Slots,
    /// Wakes the dispatcher: a job was submitted or a slot was freed.
    wake: Notify,
    /// Wakes the workers' long-polling claims: a job of a worker kind became claimable.
    worker_ready: Notify,
    /// Whether any kind here is a worker kind (else nobody waits on `worker_ready`).
    has_workers: bool,
    /// Stops claiming (set at shutdown).
    stop_claiming: CancellationToken,
    /// Every runner task, so that shutdown can wait for them.
    tasks: TaskTracker,
    /// Jobs queued: the last count plus the submissions admitted since.
    queue_cap: QueueCap,
    /// Each tenant's queue cap (`--tenant-max-queued`).
    tenant_caps: TenantCaps,
    /// Each tenant's submission rate (`--tenant-rate`).
    tenant_rate: Option<RateLimiter>,
    /// Each tenant's event streams (`--tenant-max-streams`).
    tenant_streams: TenantStreams,
    /// The earliest time a job known here becomes due (`run_after`, a retry's back-off).
    next_due: Mutex<Option<Instant>>,
    /// The event streams' hub.
    events: Arc<Hub>,
}

impl Inner {
    /// Makes the dispatcher look at the queue at `at` (a job becomes due then).
    fn due_at(&self, at: DateTime<Utc>) {
        // A millisecond late, so that the store's clock (in whole ms) has reached `at`.
        let wait =
            (at - crate::store::now()).to_std().unwrap_or_default() + Duration::from_millis(1);
        let when = Instant::now() + wait;
        let mut next = self.next_due.lock().unwrap_or_else(|e| e.into_inner());
        if next.is_none_or(|n| when < n) {
            *next = Some(when);
        }
        drop(next);
        self.wake.notify_one();
    }

    /// Takes the due time if it has come; else how long until it does.
    fn until_due(&self) -> Option<Duration> {
        let mut next = self.next_due.lock().unwrap_or_else(|e| e.into_inner());
        let when = (*next)?;
        let now = Instant::now();
        if when <= now {
            *next = None;
            // A queued job became claimable without a write: no job may start ahead of it.
            self.store.queue_grew();
            Some(Duration::ZERO)
        } else {
            Some(when - now)
        }
    }

    /// Events may have been lost: every stream reloads, every long-poll reads its job again,
    /// the dispatcher looks at the queue, no job starts at its insert until a claim has
    /// found the queue empty again.
    fn missed(&self) {
        self.events.gap();
        self.store.queue_grew();
        self.waiters.notify_all();
        self.wake.notify_one();
        self.worker_ready.notify_waiters();
    }
}

/// The handle on the job runtime of this process.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl Runtime {
    /// Starts the dispatcher. Call [`Runtime::shutdown`] to stop it.
    pub fn start(
        store: Arc<Store>,
        cpu: CpuPool,
        kinds: Arc<Registry>,
        config: RuntimeConfig,
    ) -> Self {
        let config_tenant_rate = config.tenants.rate;
        let (config_event_buffer, config_max_streams) =
            (config.event_buffer, config.max_event_streams);
        let has_workers = kinds.all().any(|k| k.class() == JobClass::Worker);
        let inner = Arc::new(Inner {
            store,
            cpu,
            kinds,
            cpu_slots: Slots::new(config.max_cpu_jobs.max(1)),
            io_slots: Slots::new(config.max_io_jobs.max(1)),
            worker_slots: Slots::new(0),
            config,
            waiters: Waiters::default(),
            running: Mutex::default(),
            wake: Notify::new(),
            worker_ready: Notify::new(),
            has_workers,
            stop_claiming: CancellationToken::new(),
            tasks: TaskTracker::new(),
            queue_cap: QueueCap::default(),
            tenant_caps: TenantCaps::default(),
            tenant_rate: config_tenant_rate.map(RateLimiter::new),
            tenant_streams: TenantStreams::default(),
            next_due: Mutex::new(None),
            events: Hub::new(config_event_buffer, config_max_streams),
        });
        // Subscribed before anything here writes: the observer sees every commit.
        let commits = inner.store.commits();
        inner
            .tasks
            .spawn(observer::run(Arc::clone(&inner), commits));
        let every = (inner.config.count_queued_every)
            .or((inner.config.tenants.max_queued > 0).then_some(Duration::from_secs(1)));
        if let Some(every) = every {
            inner
                .tasks
                .spawn(submit::count_queued(Arc::clone(&inner), every));
        }
        inner.tasks.spawn(dispatcher::run(Arc::clone(&inner)));
        inner.tasks.spawn(rescuer::run(Arc::clone(&inner)));
        let finals = publish::start(&inner);
        inner
            .tasks
            .spawn(publish::forward_events(Arc::clone(&inner), finals));
        inner.tasks.spawn(memory::trim(inner.stop_claiming.clone()));
        if inner.config.retention.succeeded.is_some() || inner.config.retention.failed.is_some() {
            inner.tasks.spawn(pruner::run(Arc::clone(&inner)));
        }
        Self { inner }
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// The kinds this server knows.
    pub fn kinds(&self) -> &Arc<Registry> {
        &self.inner.kinds
    }

    pub fn waiters(&self) -> &Waiters {
        &self.inner.waiters
    }

    /// The event streams' hub: every state change made here is recorded there.
    pub fn events(&self) -> &Arc<Hub> {
        &self.inner.events
    }

    /// About how many jobs are queued (counted every `count_queued_every`, plus the
    /// submissions admitted here since).
    pub fn queued(&self) -> u64 {
        self.inner.queue_cap.queued()
    }

    /// How this runtime runs jobs: its settings.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// A place for one more event stream of `tenant` (none without one, or without
    /// `--tenant-max-streams`), or `Err` with the limit when it has them all open.
    pub fn open_stream(&self, tenant: Option<&str>) -> Result<Option<StreamPlace>, usize> {
        let max = self.inner.config.tenants.max_streams;
        match tenant {
            Some(tenant) if max > 0 => (self.inner.tenant_streams.open(tenant, max))
                .map(Some)
                .ok_or(max),
            _ => Ok(None),
        }
    }

    /// Jobs running here now, in the CPU pool and on the async runtime.
    pub fn running(&self) -> (usize, usize) {
        let busy = |class| self.inner.slots(class).busy.load(Ordering::Acquire);
        (busy(JobClass::Cpu), busy(JobClass::Io))
    }

    /// Cancels a job: a queued one at once (in the store), a running one by stopping its run
    /// (the observer of the commit stops it).
    pub async fn cancel(&self, id: JobId) -> Result<CancelResult> {
        self.inner.store.cancel(id).await
    }

    /// Deletes a final job (and its files).
    pub async fn delete(&self, id: JobId) -> Result<DeleteResult> {
        self.inner.store.delete(id).await
    }

    /// Progress of a job running here, fresher than the store's copy.
    pub fn live_progress(&self, id: JobId) -> Option<JobProgress> {
        let (done, total) = self.inner.handle(id)?.signal.progress().get();
        (total > 0).then_some(JobProgress { done, total })
    }

    /// How often a long-poll reads its job again when nothing woke it: only where other
    /// processes share the store, whose notifications may be lost.
    pub fn recheck(&self) -> Option<Duration> {
        self.inner
            .store
            .shared()
            .then_some(self.inner.config.poll_interval)
    }

    /// A token that trips when shutdown begins (long-polls answer early).
    pub fn stopping(&self) -> CancellationToken {
        self.inner.stop_claiming.clone()
    }

    /// Stops claiming, stops every run and hands it back to the queue (the attempt does not
    /// count), and waits for the runners, at most `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.stop_claiming.cancel();
        self.inner.events.close();
        let runs: Vec<RunHandle> = self.inner.registry().runs.values().cloned().collect();
        for run in runs {
            run.stop(StopReason::Shutdown);
        }
        self.inner.tasks.close();
        if tokio::time::timeout(grace, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                ?grace,
                "runs still busy at the end of the shutdown grace period"
            );
        }
    }
}
