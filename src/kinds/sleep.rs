//! `sleep`: waits `ms` milliseconds as an async task (no thread is held while it waits).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Ctl, Stopped};
use crate::job::{Limits, SpecError};

/// Parameters of `sleep`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SleepParams, example = json!({"ms": 250}))]
pub struct Params {
    /// Milliseconds to wait, 0 to 3,600,000.
    pub ms: u64,
}

/// Result of `sleep`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = SleepResult)]
pub struct Output {
    pub slept_ms: u64,
}

impl Params {
    pub fn validate(&self, limits: &Limits) -> Result<(), SpecError> {
        if self.ms > limits.max_sleep_ms {
            return Err(SpecError::param(
                "ms",
                format!(
                    "ms must be at most {}, got {}",
                    limits.max_sleep_ms, self.ms
                ),
            ));
        }
        Ok(())
    }
}

/// Sleeps, or returns [`Stopped`] as soon as the run is cancelled.
pub async fn run(params: &Params, ctl: &Ctl) -> Result<Output, Stopped> {
    ctl.set_total(1);
    if params.ms == 0 {
        // No timer: a zero sleep would still wait for the timer wheel's next tick.
        ctl.check()?;
        ctl.advance(1);
        return Ok(Output { slept_ms: 0 });
    }
    tokio::select! {
        () = tokio::time::sleep(Duration::from_millis(params.ms)) => {
            ctl.advance(1);
            Ok(Output { slept_ms: params.ms })
        }
        () = ctl.token().cancelled() => Err(Stopped),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sleeps_the_time_asked() {
        let start = tokio::time::Instant::now();
        let out = run(&Params { ms: 1500 }, &Ctl::default()).await;
        assert_eq!(out, Ok(Output { slept_ms: 1500 }));
        assert_eq!(start.elapsed(), Duration::from_millis(1500));
    }

    #[tokio::test(start_paused = true)]
    async fn stops_when_cancelled() {
        let ctl = Ctl::default();
        let token = ctl.clone();
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            token.stop();
        });
        let start = tokio::time::Instant::now();
        assert_eq!(run(&Params { ms: 60_000 }, &ctl).await, Err(Stopped));
        assert_eq!(start.elapsed(), Duration::from_millis(10));
        canceller.await.unwrap();
    }
}
