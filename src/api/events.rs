//! `GET /events` and `GET /jobs/{id}/events`: job events as Server-Sent Events.
//!
//! Each stream is a cursor into the runtime's [`Hub`]: `job` events (a job's state after
//! every change), `progress` events (sampled, only changes) and `deleted` events, each with
//! an `id:` that a reconnecting client sends back as `Last-Event-ID`. A client whose id can
//! no longer be resumed (it fell too far behind, or the server restarted) first gets a
//! `reset` event: reload, then follow. A stream that falls behind the hub's ring ends; a
//! client that stops reading altogether is cut off by the socket's send timeout (see
//! [`crate::app`]). Keep-alive comments every [`KEEP_ALIVE`].
//!
//! The stream of one job starts with its current state, follows it live, and ends after its
//! final state (or its deletion). It reads the job again when nothing came for
//! [`RECHECK`], so that a change the hub did not see (another instance's) is not missed.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use axum::{Router, response::IntoResponse, response::Response};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::auth::Caller;
use super::auth::check_visible;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{ApiQuery, JobIdPath};
use super::responses::Unauthorized;
use crate::events::{Batch, Event, Filter, Hub, JobState, Resume, StreamGuard};
use crate::job::{Job, JobId, JobKind, JobStatus};
use crate::runtime::StreamPlace;

/// Interval of the keep-alive comments.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long the stream of one job waits for an event before reading the job again.
pub const RECHECK: Duration = Duration::from_secs(5);
/// Most events taken from the hub at once.
const BATCH: usize = 64;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(events))
        .route("/jobs/{id}/events", get(job_events))
}

/// Filters of `GET /events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Only events of jobs of this kind.
    #[param(value_type = Option<JobKind>)]
    pub kind: Option<String>,
    /// Only `job` events of jobs in this state (no `progress` or `deleted` events).
    pub status: Option<JobStatus>,
}

/// Follow job events as they happen (Server-Sent Events).
///
/// Events: `job` (data: the job's state, see `JobState`), `progress` (`ProgressEvent`),
/// `deleted` (`DeletedEvent`), and `reset` (data `{}`) when the `Last-Event-ID` sent can no
/// longer be resumed: events were missed, reload. Comments (`: keep-alive`) every 15 s.
#[utoipa::path(
    get, path = "/events", tag = "events",
    params(EventsQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "The `id` of the last event received: the stream resumes after it")),
    responses(
        (status = 200, description = "An endless stream of events", content_type = "text/event-stream", body = String),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The API key has `--tenant-max-streams` streams open (`too_many_streams`, `Retry-After`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many event streams open (`Retry-After`)", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
    )
)]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<EventsQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let hub = Arc::clone(state.runtime.events());
    let (resume, guard) = subscribe(&state, caller.tenant.as_deref(), &hub, &headers)?;
    let filter = Filter {
        kind: state.kind_filter(query.kind)?,
        status: query.status,
        job: None,
        tenant: caller.tenant,
    };
    let (start, reset) = match resume {
        Resume::After(n) => (n, None),
        Resume::Reset(n) => (n, Some(reset_event(&hub, n))),
    };
    let follow = follow(hub, guard, filter, start);
    let stream = stream::iter(reset.map(Ok)).chain(follow);
    Ok(sse(stream))
}

/// Follow one job's events until it is final (Server-Sent Events).
///
/// The first event is the job's current state (unless the stream resumes from a
/// `Last-Event-ID`); the stream ends after its final state or its deletion.
#[utoipa::path(
    get, path = "/jobs/{id}/events", tag = "events",
    params(("id" = JobId, Path, description = "Job id (UUID)"),
        ("Last-Event-ID" = Option<String>, Header, description = "The `id` of the last event received: the stream resumes after it")),
    responses(
        (status = 200, description = "The job's events, ending after its final state", content_type = "text/event-stream", body = String),
        (status = 400, description = "Id not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The API key has `--tenant-max-streams` streams open (`too_many_streams`, `Retry-After`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many event streams open, or the job store is unreachable (`Retry-After`)", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
    )
)]
pub async fn job_events(
    State(state): State<AppState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
    headers: HeaderMap,
) -> ApiResult<Response> {
    check_visible(&state, &caller, id).await?;
    let hub = Arc::clone(state.runtime.events());
    // Subscribed before the read: nothing after the state read is missed.
    let (resume, guard) = subscribe(&state, caller.tenant.as_deref(), &hub, &headers)?;
    let filter = Filter {
        job: Some(id),
        ..Filter::default()
    };
    let job = state
        .runtime
        .store()
        .get(id)
        .await?
        .ok_or(ApiError::JobNotFound(id))?;
    let job = state.with_live_progress(job);
    // A client resuming from an id it was given gets what it missed, its final state
    // included; once it has had everything of a final job, 204 tells it (an EventSource
    // too) to stop reconnecting. Any other client starts from the job's state.
    let resuming = headers.contains_key("last-event-id");
    let (start, first) = match resume {
        Resume::After(n) if resuming && job.is_final() && !hub.any_after(n, &filter) => {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        Resume::After(n) if resuming => (n, None),
        Resume::After(n) | Resume::Reset(n) => (n, Some(job.clone())),
    };
    let stream = OneJob {
        recheck: state.runtime.recheck().map(|_| RECHECK),
        state,
        hub,
        _guard: guard,
        filter,
        after: start,
        last: Some((job.status, job.attempt)),
        // Progress replayed to a resuming client is older than the job just read: only a
        // stream that starts from that state skips it.
        done: first.as_ref().and(job.progress).map(|p| p.done),
        pending: first,
        finished: false,
    }
    .into_stream();
    Ok(sse(stream))
}

/// A stream's places: among all streams here, and among its tenant's (`--tenant-max-streams`);
/// given back when dropped.
struct Places {
    _stream: StreamGuard,
    _tenant: Option<StreamPlace>,
}

fn subscribe(
    state: &AppState,
    tenant: Option<&str>,
    hub: &Arc<Hub>,
    headers: &HeaderMap,
) -> ApiResult<(Resume, Places)> {
    let place = (state.runtime.open_stream(tenant)).map_err(ApiError::TooManyStreams)?;
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let (resume, guard) = hub.subscribe(last).ok_or(ApiError::Overloaded)?;
    let places = Places {
        _stream: guard,
        _tenant: place,
    };
    Ok((resume, places))
}

fn sse(stream: impl Stream<Item = Result<SseEvent, Infallible>> + Send + 'static) -> Response {
    let mut resp = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
        .into_response();
    // A buffering proxy (nginx) would hold events back and defeat the keep-alives.
    resp.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

fn reset_event(hub: &Hub, seq: u64) -> SseEvent {
    SseEvent::default()
        .event("reset")
        .id(hub.event_id(seq))
        .data("{}")
}

fn to_sse(hub: &Hub, e: &Event) -> SseEvent {
    SseEvent::default()
        .event(e.kind.name())
        .id(hub.event_id(e.seq))
        .data(&e.data)
}

/// The events after `start` that `filter` wants, until the hub closes or the stream falls
/// behind.
fn follow(
    hub: Arc<Hub>,
    guard: Places,
    filter: Filter,
    start: u64,
) -> impl Stream<Item = Result<SseEvent, Infallible>> + Send + 'static {
    stream::unfold(
        (hub, guard, filter, start),
        |(hub, guard, filter, mut after)| async move {
            match hub.next(&mut after, &filter, BATCH).await {
                Batch::Events(events) => {
                    let out: Vec<_> = events.iter().map(|e| Ok(to_sse(&hub, e))).collect();
                    Some((stream::iter(out), (hub, guard, filter, after)))
                }
                Batch::Overrun | Batch::Closed => None,
            }
        },
    )
    .flatten()
}

/// The stream of one job: its state first, then its events, until it is final.
struct OneJob {
    state: AppState,
    hub: Arc<Hub>,
    _guard: Places,
    filter: Filter,
    after: u64,
    /// The status and attempt last sent.
    last: Option<(JobStatus, u32)>,
    /// How long to wait for an event before reading the job again: only where other
    /// instances share the store (their changes do not all reach this hub).
    recheck: Option<Duration>,
    /// The progress last sent in this attempt: older samples that arrive after it (taken
    /// between the subscription and the read of the state) are skipped.
    done: Option<u64>,
    /// A state to send before anything else.
    pending: Option<Job>,
    finished: bool,
}

impl OneJob {
    fn into_stream(self) -> impl Stream<Item = Result<SseEvent, Infallible>> + Send + 'static {
        stream::unfold(self, |mut s| async move {
            let out = s.step().await?;
            Some((stream::iter(out.into_iter().map(Ok)), s))
        })
        .flatten()
    }

    /// The next events to send; `None` once the stream is over.
    async fn step(&mut self) -> Option<Vec<SseEvent>> {
        if self.finished {
            return None;
        }
        if let Some(job) = self.pending.take() {
            return Some(vec![self.state_event(&job)]);
        }
        let next = self.hub.next(&mut self.after, &self.filter, BATCH);
        let got = match self.recheck {
            Some(every) => tokio::time::timeout(every, next).await.ok(),
            None => Some(next.await),
        };
        match got {
            Some(Batch::Events(events)) => Some(self.forward(&events)),
            Some(Batch::Overrun | Batch::Closed) => None,
            // Nothing for a while: a change the hub did not see (made by another instance)?
            None => {
                let job = self
                    .state
                    .runtime
                    .store()
                    .get(self.filter.job?)
                    .await
                    .ok()?;
                let Some(job) = job else {
                    self.finished = true;
                    return Some(vec![
                        SseEvent::default()
                            .event("deleted")
                            .data(crate::events::payload::deleted_json(self.filter.job?)),
                    ]);
                };
                let progressed = job.progress.map(|p| p.done) > self.done;
                if Some((job.status, job.attempt)) == self.last && !progressed {
                    return Some(Vec::new());
                }
                Some(vec![self.state_event(&job)])
            }
        }
    }

    /// The hub's `events` for the stream: stale progress skipped, up to the final state.
    fn forward(&mut self, events: &[Arc<Event>]) -> Vec<SseEvent> {
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            if let Some(done) = e.done {
                if self.done.is_some_and(|sent| done < sent) {
                    continue;
                }
                self.done = Some(done);
            }
            out.push(to_sse(&self.hub, e));
            if let Some(status) = e.status {
                self.last = Some((status, self.last.map_or(0, |(_, a)| a)));
                // A new attempt starts its progress again.
                self.done = None;
            }
            if e.last {
                self.finished = true;
                break;
            }
        }
        out
    }

    /// The state of `job` as a `job` event, with the id of the stream's position.
    fn state_event(&mut self, job: &Job) -> SseEvent {
        self.last = Some((job.status, job.attempt));
        self.done = job.progress.map(|p| p.done);
        self.finished = job.is_final();
        SseEvent::default()
            .event("job")
            .id(self.hub.event_id(self.after))
            .data(JobState::from(job).to_json())
    }
}
