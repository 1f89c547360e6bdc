//! Job states and which of them are final.
//!
//! ```text
//!             claim              ok
//!  queued ───────────► running ─────► succeeded
//!    │  ▲                 │  │ error           ─► failed
//!    │  │ interrupted     │  │ deadline        ─► timed_out
//!    │  │ (attempts left) │  │ cancel          ─► cancelled
//!    │  └─────────────────┘  │ shutdown        ─► queued again, attempt not counted
//!    │ cancel                │ interrupted, no attempts left ─► failed (interrupted)
//!    ├──────────► cancelled
//!    │ a dependency did not succeed (never claimed while it waits for dependencies)
//!    └──────────► failed (dependency_failed)
//! ```
//!
//! A run is interrupted by a crash (settled at the next start) or by a lease that expired
//! (settled by the rescuer). A cancel accepted while a job runs is final: a run handed back or
//! interrupted with one pending ends `cancelled`. A job submitted after one of its dependencies
//! ended without succeeding is `failed` from the start. A final state never changes; a final
//! job can only be deleted.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
}

impl JobStatus {
    pub const ALL: [JobStatus; 6] = [
        Self::Queued,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
        Self::TimedOut,
    ];

    /// The name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::TimedOut => "timed_out",
        }
    }

    /// A final state never changes again.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text names no job status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job status `{0}`")]
pub struct UnknownStatus(pub String);

impl FromStr for JobStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_only_queued_and_running_are_open() {
        for st in JobStatus::ALL {
            assert_eq!(st.as_str().parse::<JobStatus>(), Ok(st));
            assert_eq!(
                serde_json::to_value(st).unwrap(),
                serde_json::Value::from(st.as_str())
            );
        }
        let open: Vec<_> = JobStatus::ALL
            .into_iter()
            .filter(|s| !s.is_final())
            .collect();
        assert_eq!(open, [JobStatus::Queued, JobStatus::Running]);
    }
}
