//! The reading side of the [`Hub`]: a stream subscribes (resuming after the client's
//! `Last-Event-ID` when it can), then takes the events after its cursor that its filter
//! wants, waiting for more; one that fell behind the ring ends.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{Event, Filter, Hub};

/// Where a stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// After the event with this sequence number: nothing was lost.
    After(u64),
    /// Events were lost (or the id is not this process's): reload, then go on from here.
    Reset(u64),
}

/// What a stream got from [`Hub::next`].
#[derive(Debug)]
pub enum Batch {
    Events(Vec<Arc<Event>>),
    /// The stream fell behind the ring: it lost events and must end.
    Overrun,
    /// The hub is closing (shutdown).
    Closed,
}

/// Unregisters a stream when dropped.
#[derive(Debug)]
pub struct StreamGuard {
    hub: Arc<Hub>,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        // Under the lock: `recording` must not see no stream and an old departure.
        let mut ring = self.hub.lock();
        if self.hub.streams.fetch_sub(1, Ordering::AcqRel) == 1 {
            ring.last_stream_left = Some(Instant::now());
        }
    }
}

impl Hub {
    /// The `id:` of event `seq`.
    pub fn event_id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.boot)
    }

    /// Registers a stream resuming after `last_event_id` (the client's `Last-Event-ID`),
    /// or starting now without one; `None` when `max_streams` are open.
    pub fn subscribe(
        self: &Arc<Self>,
        last_event_id: Option<&str>,
    ) -> Option<(Resume, StreamGuard)> {
        self.streams
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_streams).then_some(n + 1)
            })
            .ok()?;
        let guard = StreamGuard {
            hub: Arc::clone(self),
        };
        let mut ring = self.lock();
        if !self.recording.swap(true, Ordering::AcqRel) {
            // Nothing was recorded for a while: what came before is unknown.
            ring.since = ring.next_seq;
        }
        let now = ring.next_seq - 1;
        let Some(last) = last_event_id else {
            return Some((Resume::After(now), guard));
        };
        let seq = last
            .strip_prefix(&self.boot)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|&n| n <= now);
        let oldest = ring.events.front().map_or(ring.next_seq, |e| e.seq);
        let resume = match seq {
            Some(n) if n + 1 >= oldest.max(ring.since) => Resume::After(n),
            _ => Resume::Reset(now),
        };
        Some((resume, guard))
    }

    /// Streams open now.
    pub fn streams(&self) -> usize {
        self.streams.load(Ordering::Acquire)
    }

    /// The events after `after` that `filter` wants (at most `max`), waiting for some if
    /// there are none yet. `after` moves past every event looked at.
    pub async fn next(&self, after: &mut u64, filter: &Filter, max: usize) -> Batch {
        loop {
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if self.closed.is_cancelled() {
                return Batch::Closed;
            }
            {
                let ring = self.lock();
                let oldest = ring.events.front().map_or(ring.next_seq, |e| e.seq);
                if *after + 1 < oldest {
                    return Batch::Overrun;
                }
                let skip = (*after + 1 - oldest) as usize;
                let mut got = Vec::new();
                for e in ring.events.iter().skip(skip) {
                    *after = e.seq;
                    if filter.matches(e) {
                        got.push(Arc::clone(e));
                        if got.len() == max {
                            break;
                        }
                    }
                }
                if !got.is_empty() {
                    return Batch::Events(got);
                }
            }
            tokio::select! {
                () = &mut arrived => {}
                () = self.closed.cancelled() => return Batch::Closed,
            }
        }
    }

    /// Whether an event after `after` that `filter` wants is in the ring now.
    pub fn any_after(&self, after: u64, filter: &Filter) -> bool {
        let ring = self.lock();
        ring.events
            .iter()
            .rev()
            .take_while(|e| e.seq > after)
            .any(|e| filter.matches(e))
    }
}
