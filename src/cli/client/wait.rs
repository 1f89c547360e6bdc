//! Waiting for a job to end: short long-polls (`GET /jobs/{id}?wait_ms=…`), so that a progress
//! bar on stderr follows the job's `progress` while it runs, until the job is final. The bar
//! is a spinner while the total is unknown (queued, or a kind that reports none) and is
//! hidden when stderr is not a terminal; then the polls are long, since nobody watches.
//! Ctrl-C stops the waiting, not the job.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};

use super::http::{Client, Result};
use crate::job::{Job, JobStatus};

/// One poll when the bar shows: the server answers at once when the job ends, so this only
/// bounds how stale the bar can be.
const POLL_SHOWN: Duration = Duration::from_millis(500);
/// One poll when nobody watches (the API's longest is 60 s).
const POLL_HIDDEN: Duration = Duration::from_secs(30);
const TICK: Duration = Duration::from_millis(120);

/// How waiting ended.
pub enum Waited {
    /// The job is final.
    Final(Job),
    /// Ctrl-C: the job as last seen, still queued or running.
    Interrupted(Job),
}

/// Polls `job` until it is final or the user presses Ctrl-C.
pub async fn until_final(client: &Client, job: Job) -> Result<Waited> {
    let bar = Bar::new(&job);
    let poll = if bar.0.is_hidden() {
        POLL_HIDDEN
    } else {
        POLL_SHOWN
    };
    let mut job = job;
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    while !job.is_final() {
        bar.show(&job);
        tokio::select! {
            next = client.get(job.id, poll) => job = next?,
            _ = &mut interrupt => {
                // The message that follows says where the job was.
                bar.0.finish_and_clear();
                return Ok(Waited::Interrupted(job));
            }
        }
    }
    bar.finish(&job);
    Ok(Waited::Final(job))
}

/// The progress bar of one job.
struct Bar(ProgressBar);

impl Bar {
    fn new(job: &Job) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
            .with_prefix(job.id.to_string())
            // Left as it is on an error or Ctrl-C: the last state seen.
            .with_finish(ProgressFinish::Abandon);
        bar.set_style(spinner_style());
        if !bar.is_hidden() {
            bar.enable_steady_tick(TICK);
        }
        Self(bar)
    }

    /// Shows what the job reports: its state and, once it knows them, done and total.
    fn show(&self, job: &Job) {
        let bar = &self.0;
        match job.progress {
            Some(p) if p.total > 0 => {
                if bar.length().is_none() {
                    bar.set_style(bar_style());
                }
                bar.set_length(p.total);
                bar.set_position(p.done);
            }
            _ => {}
        }
        bar.set_message(state(job));
    }

    fn finish(&self, job: &Job) {
        self.show(job);
        self.0.disable_steady_tick();
        self.0.abandon();
    }
}

/// `running`, or `running (attempt 2/3)` once a retry runs.
fn state(job: &Job) -> String {
    if job.attempt > 1 && job.status == JobStatus::Running {
        format!(
            "{} (attempt {}/{})",
            job.status, job.attempt, job.max_attempts
        )
    } else {
        job.status.to_string()
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix} {msg} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} {msg} {elapsed}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}
