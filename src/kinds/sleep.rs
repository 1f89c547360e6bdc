//! `sleep`: waits `ms` milliseconds as an async task (no thread is held while it waits).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::job::SpecError;
use crate::kind::{Ctl, JobClass, Kind, KindError, schema};

/// Default longest sleep: an hour.
pub const DEFAULT_MAX_MS: u64 = 3_600_000;

/// The kind, with the longest sleep it accepts.
#[derive(Debug, Clone)]
pub struct Sleep {
    pub max_ms: u64,
}

impl Default for Sleep {
    fn default() -> Self {
        Self {
            max_ms: DEFAULT_MAX_MS,
        }
    }
}

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

impl Kind for Sleep {
    type Params = Params;
    type Output = Output;

    fn name(&self) -> &str {
        "sleep"
    }

    fn class(&self) -> JobClass {
        JobClass::Io
    }

    fn summary(&self) -> &str {
        "Wait `ms` milliseconds (I/O)."
    }

    fn validate(&self, p: &Params) -> Result<(), SpecError> {
        if p.ms > self.max_ms {
            return Err(SpecError::param(
                "ms",
                format!("ms must be at most {}, got {}", self.max_ms, p.ms),
            ));
        }
        Ok(())
    }

    fn limits(&self) -> serde_json::Value {
        json!({ "max_ms": self.max_ms })
    }

    fn params_schema(&self) -> serde_json::Value {
        let mut s = schema::of::<Params>();
        schema::set(&mut s, "/properties/ms/maximum", self.max_ms);
        s
    }

    /// Sleeps, or stops as soon as the run is stopped.
    async fn run(&self, p: Params, ctl: Ctl) -> Result<Output, KindError> {
        ctl.set_total(1);
        if p.ms == 0 {
            // No timer: a zero sleep would still wait for the timer wheel's next tick.
            ctl.check()?;
            ctl.advance(1);
            return Ok(Output { slept_ms: 0 });
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(p.ms)) => {
                ctl.advance(1);
                Ok(Output { slept_ms: p.ms })
            }
            () = ctl.stopped() => Err(KindError::Stopped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::CpuPool;

    fn ctl() -> Ctl {
        Ctl::detached(CpuPool::new(1, 1).unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn sleeps_the_time_asked() {
        let start = tokio::time::Instant::now();
        let out = Sleep::default().run(Params { ms: 1500 }, ctl()).await;
        assert_eq!(out, Ok(Output { slept_ms: 1500 }));
        assert_eq!(start.elapsed(), Duration::from_millis(1500));
    }

    #[tokio::test(start_paused = true)]
    async fn stops_when_stopped() {
        let ctl = ctl();
        let stopper = ctl.clone();
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            stopper.stop();
        });
        let start = tokio::time::Instant::now();
        let out = Sleep::default().run(Params { ms: 60_000 }, ctl).await;
        assert_eq!(out, Err(KindError::Stopped));
        assert_eq!(start.elapsed(), Duration::from_millis(10));
        canceller.await.unwrap();
    }

    #[test]
    fn longer_sleeps_than_the_cap_are_refused() {
        let kind = Sleep { max_ms: 10 };
        assert!(kind.validate(&Params { ms: 10 }).is_ok());
        let err = kind.validate(&Params { ms: 11 }).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("params.ms"));
    }
}
