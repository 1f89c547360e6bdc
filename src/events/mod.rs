//! Job events for the event streams (`GET /events`, `GET /jobs/{id}/events`): every state
//! change this instance makes or learns of, and the progress of the runs it has.
//!
//! The [`Hub`] keeps the latest events in one ring shared by every stream: a stream is a
//! cursor into it, so a client that reads slowly costs nothing more than a fast one. A
//! stream that falls behind the ring's start has lost events: it ends, and the client that
//! reconnects with its `Last-Event-ID` is told to reload ([`Resume::Reset`]). The same
//! happens to a client whose id is from another process (a restart) or from before a pause
//! in recording.
//!
//! Recording costs a serialisation per event, so the hub records only while someone watches
//! or has just stopped watching ([`RECORD_AFTER_LAST`]): a reconnecting client finds what it
//! missed, and a server nobody watches pays nothing.

pub(crate) mod payload;
mod streams;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::job::{Job, JobId, JobKind, JobProgress, JobStatus};
pub use payload::{DeletedEvent, JobState, ProgressEvent};
pub use streams::{Batch, Resume, StreamGuard};

/// How long recording goes on after the last stream ended.
pub const RECORD_AFTER_LAST: Duration = Duration::from_secs(120);

/// Events kept for streams that reconnect (`--event-buffer`).
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Most event streams open at once (`--max-event-streams`).
pub const DEFAULT_MAX_STREAMS: usize = 1_000;

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// The job's state: submitted, started, ended or queued again.
    Job,
    /// Progress of a run.
    Progress,
    /// The job was deleted.
    Deleted,
}

impl EventType {
    /// The SSE `event:` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Job => "job",
            Self::Progress => "progress",
            Self::Deleted => "deleted",
        }
    }
}

/// One event, serialised once for every stream.
#[derive(Debug)]
pub struct Event {
    pub seq: u64,
    pub kind: EventType,
    pub job: JobId,
    pub job_kind: JobKind,
    /// The job's status after a `job` event.
    pub status: Option<JobStatus>,
    /// Whether the job is final after this event (its stream ends there).
    pub last: bool,
    /// Units done, for a `progress` event.
    pub done: Option<u64>,
    /// The API key owning the job (see [`Job::tenant`]).
    pub tenant: Option<String>,
    /// The JSON of the `data:` line.
    pub data: String,
}

/// The job an event is about, as far as streams filter on it.
#[derive(Debug, Clone)]
pub struct Subject {
    pub id: JobId,
    pub kind: JobKind,
    pub tenant: Option<String>,
}

/// Which events a stream wants.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<JobKind>,
    /// Applies to `job` events; `progress` and `deleted` events have no status.
    pub status: Option<JobStatus>,
    pub job: Option<JobId>,
    /// `Some(t)`: only jobs of tenant `t` (API keys on).
    pub tenant: Option<String>,
}

impl Filter {
    pub fn matches(&self, e: &Event) -> bool {
        self.kind.is_none_or(|k| k == e.job_kind)
            && self.job.is_none_or(|j| j == e.job)
            && self
                .tenant
                .as_ref()
                .is_none_or(|t| Some(t) == e.tenant.as_ref())
            && match (self.status, e.kind) {
                (Some(s), EventType::Job) => e.status == Some(s),
                (Some(_), _) => false,
                (None, _) => true,
            }
    }
}

/// The ring of recent events and the streams reading it.
#[derive(Debug)]
pub struct Hub {
    ring: Mutex<Ring>,
    capacity: usize,
    /// Most streams open at once.
    max_streams: usize,
    /// A process-unique prefix of event ids, so that an id from an earlier process is known.
    boot: String,
    arrived: Notify,
    streams: AtomicUsize,
    recording: AtomicBool,
    closed: CancellationToken,
}

#[derive(Debug)]
struct Ring {
    events: VecDeque<Arc<Event>>,
    next_seq: u64,
    /// The first sequence number recorded since recording last (re)started.
    since: u64,
    last_stream_left: Option<Instant>,
    /// The rank of the last state recorded per job not final yet (see [`rank`]).
    ranks: HashMap<JobId, u64>,
}

/// Most jobs whose last state is remembered for ordering; past it the memory starts over.
const MAX_RANKED: usize = 100_000;

/// Where a state comes in a job's life: queued (after `attempt` runs), running (attempt
/// `attempt`), final. This process's states come in commit order; a state read back after
/// another instance's notification may come late: one ranked no later than the last state
/// recorded is stale and dropped ([`Hub::read_back`]).
fn rank(job: &Job) -> u64 {
    let attempt = u64::from(job.attempt);
    match job.status {
        JobStatus::Queued => 2 * attempt,
        JobStatus::Running => (2 * attempt).saturating_sub(1),
        _ => u64::MAX,
    }
}

impl Hub {
    pub fn new(capacity: usize, max_streams: usize) -> Arc<Self> {
        Arc::new(Self {
            ring: Mutex::new(Ring {
                events: VecDeque::with_capacity(capacity.min(1024)),
                next_seq: 1,
                since: 1,
                last_stream_left: None,
                ranks: HashMap::new(),
            }),
            capacity: capacity.max(1),
            max_streams,
            boot: format!("{:x}", JobId::new().as_uuid().as_u128() as u32),
            arrived: Notify::new(),
            streams: AtomicUsize::new(0),
            recording: AtomicBool::new(false),
            closed: CancellationToken::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether events are being recorded (someone watches, or did a moment ago).
    pub fn recording(&self) -> bool {
        if !self.recording.load(Ordering::Acquire) {
            return false;
        }
        if self.streams.load(Ordering::Acquire) > 0 {
            return true;
        }
        let mut ring = self.lock();
        let idle = ring
            .last_stream_left
            .is_some_and(|t| t.elapsed() > RECORD_AFTER_LAST);
        if idle && self.streams.load(Ordering::Acquire) == 0 {
            self.recording.store(false, Ordering::Release);
            ring.events.clear();
            ring.ranks.clear();
            // A gap: ids handed out before it cannot resume.
            ring.next_seq += 1;
            return false;
        }
        true
    }

    /// Records the state of `job`, as this process committed it (in commit order: a hand-back
    /// queues a job again without counting its attempt, and that is recorded too).
    pub fn job(&self, job: &Job) {
        if self.recording() && self.advance(job, true) {
            self.record(job);
        }
    }

    /// Records the state of `job` as read after another instance changed it, unless a state
    /// as late was recorded already.
    pub fn read_back(&self, job: &Job) {
        if self.recording() && self.advance(job, false) {
            self.record(job);
        }
    }

    /// Whether `job`'s state is newer than the last one recorded (`in_order`: other than
    /// it, whether it ranks later or not); remembers its rank when it is.
    fn advance(&self, job: &Job, in_order: bool) -> bool {
        let r = rank(job);
        let mut ring = self.lock();
        let last = ring.ranks.get(&job.id).copied();
        let stale = match last {
            Some(last) if in_order => r == last,
            Some(last) => r <= last,
            None => false,
        };
        if stale {
            return false;
        }
        if ring.ranks.len() >= MAX_RANKED {
            ring.ranks.clear();
        }
        // A final job's id is kept too: a late state of it must not be recorded.
        ring.ranks.insert(job.id, r);
        true
    }

    fn record(&self, job: &Job) {
        let data = JobState::from(job).to_json();
        self.push(EventType::Job, job, Some(job.status), job.is_final(), data);
    }

    /// Events were lost (a notification missed, a queue full): every stream ends as if it
    /// had fallen behind, and no id given so far can resume; reconnecting clients reload.
    pub fn gap(&self) {
        {
            let mut ring = self.lock();
            ring.events.clear();
            ring.next_seq += 1;
            ring.since = ring.next_seq;
        }
        self.arrived.notify_waiters();
    }

    /// Records progress of a run of `job` (call only while [`Hub::recording`]).
    pub fn progress(&self, job: Subject, progress: JobProgress) {
        // A kernel still unwinding after its job's end was recorded: nothing to show.
        if self.lock().ranks.get(&job.id) == Some(&u64::MAX) {
            return;
        }
        let data = payload::progress_json(job.id, progress);
        self.push_to(
            EventType::Progress,
            job,
            None,
            false,
            Some(progress.done),
            data,
        );
    }

    /// Records that `job` was deleted.
    pub fn deleted(&self, job: Subject) {
        if self.recording() {
            let data = payload::deleted_json(job.id);
            self.push_to(EventType::Deleted, job, None, true, None, data);
        }
    }

    fn push(
        &self,
        kind: EventType,
        job: &Job,
        status: Option<JobStatus>,
        last: bool,
        data: String,
    ) {
        let subject = Subject {
            id: job.id,
            kind: job.kind,
            tenant: job.tenant.clone(),
        };
        self.push_to(kind, subject, status, last, None, data);
    }

    fn push_to(
        &self,
        kind: EventType,
        job: Subject,
        status: Option<JobStatus>,
        last: bool,
        done: Option<u64>,
        data: String,
    ) {
        {
            let mut ring = self.lock();
            let seq = ring.next_seq;
            ring.next_seq += 1;
            if ring.events.len() == self.capacity {
                ring.events.pop_front();
            }
            ring.events.push_back(Arc::new(Event {
                seq,
                kind,
                job: job.id,
                job_kind: job.kind,
                status,
                last,
                done,
                tenant: job.tenant,
                data,
            }));
        }
        self.arrived.notify_waiters();
    }

    /// Ends every stream (at shutdown).
    pub fn close(&self) {
        self.closed.cancel();
    }

    /// Events in the ring now.
    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
