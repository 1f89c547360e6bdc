//! What one tenant (API key) may use, so that none can crowd the others out: jobs queued
//! (`--tenant-max-queued`, all instances, as the queue cap counts them), submissions per
//! window (`--tenant-rate`, on this instance) and event streams open (`--tenant-max-streams`,
//! on this instance). Without API keys there are no tenants and none of these applies.
//!
//! The rate is a GCRA (the virtual-scheduling form of a token bucket): a tenant may submit
//! `n` jobs per `per` steadily, after a burst of up to `n`; each job moves its theoretical
//! arrival time on by `per / n`, and a submission that would move it more than `per` past now
//! is refused, told when it would pass. So a tenant idle for a window may send `n` at once,
//! then one per `per / n` (at most `2n − 1` in the first window, `n` per window after). One
//! timestamp per tenant, under one lock, never across an await.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The tenants' limits (0 or `None`: none).
#[derive(Debug, Clone, Default)]
pub struct TenantLimits {
    /// Jobs one tenant may have queued (waiting included), all instances.
    pub max_queued: u64,
    /// Submissions one tenant may make per window, on this instance.
    pub rate: Option<Rate>,
    /// Event streams one tenant may have open on this instance.
    pub max_streams: usize,
}

/// `n` per `per`, written `N/DURATION` (`100/1s`, `6000/1m`, `50/500ms`, `1000/1h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub n: u32,
    pub per: Duration,
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a rate such as 100/1s, 6000/1m or 50/500ms");
        let (n, per) = text.trim().split_once('/').ok_or_else(bad)?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        let per = per.trim();
        let split = per.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (count, unit) = per.split_at(split);
        let count: u64 = count.parse().map_err(|_| bad())?;
        let unit_ms = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(bad()),
        };
        let per = Duration::from_millis(count.checked_mul(unit_ms).ok_or_else(bad)?);
        if n == 0 || per.is_zero() || per > Duration::from_secs(86_400) {
            return Err(format!("{}: at least 1 per window, of 1 ms to 24 h", bad()));
        }
        Ok(Rate { n, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}ms", self.n, self.per.as_millis())
    }
}

/// Each tenant's theoretical arrival time.
#[derive(Debug)]
pub(super) struct RateLimiter {
    rate: Rate,
    tat: Mutex<HashMap<String, Instant>>,
}

/// Tenants kept before the idle ones (their time passed) are forgotten.
const KEEP_TENANTS: usize = 1024;

impl RateLimiter {
    pub(super) fn new(rate: Rate) -> Self {
        Self {
            rate,
            tat: Mutex::default(),
        }
    }

    pub(super) fn rate(&self) -> Rate {
        self.rate
    }

    fn tat(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.tat.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `n` submissions of `tenant` at `now`, or says how long until they would pass
    /// (`None`: never, `n` is more than a window holds).
    pub(super) fn take(&self, tenant: &str, n: u64, now: Instant) -> Result<(), Option<Duration>> {
        if n > u64::from(self.rate.n) {
            return Err(None);
        }
        let step = self.rate.per / self.rate.n;
        let cost = step * u32::try_from(n).unwrap_or(u32::MAX);
        let mut tat = self.tat();
        let at = tat.get(tenant).copied().filter(|&t| t > now).unwrap_or(now);
        let next = at + cost;
        // Passes while the tenant is at most a window ahead of now.
        if next > now + self.rate.per {
            return Err(Some(next - (now + self.rate.per)));
        }
        if tat.len() >= KEEP_TENANTS && !tat.contains_key(tenant) {
            tat.retain(|_, &mut t| t > now);
        }
        tat.insert(tenant.to_owned(), next);
        Ok(())
    }
}

/// Event streams open per tenant.
#[derive(Debug, Default)]
pub(super) struct TenantStreams {
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// A tenant's place among its streams, given back when dropped.
#[derive(Debug)]
pub struct StreamPlace {
    open: Arc<Mutex<HashMap<String, usize>>>,
    tenant: String,
}

impl TenantStreams {
    /// A place for one more stream of `tenant`, unless it has `max` open.
    pub(super) fn open(&self, tenant: &str, max: usize) -> Option<StreamPlace> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(tenant.to_owned()).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(StreamPlace {
            open: Arc::clone(&self.open),
            tenant: tenant.to_owned(),
        })
    }
}

impl Drop for StreamPlace {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.tenant) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_refuse_what_they_cannot_mean() {
        let rate = |n, ms| Rate {
            n,
            per: Duration::from_millis(ms),
        };
        assert_eq!("100/1s".parse(), Ok(rate(100, 1_000)));
        assert_eq!(" 6000 / 1m ".parse(), Ok(rate(6_000, 60_000)));
        assert_eq!("50/500ms".parse(), Ok(rate(50, 500)));
        assert_eq!("1/24h".parse(), Ok(rate(1, 86_400_000)));
        for bad in [
            "", "100", "100/", "/1s", "0/1s", "10/0s", "10/1d", "10/25h", "x/1s", "10/s",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?}");
        }
    }

    /// Against the timestamps of what passed: after the burst, one per step and never
    /// closer; no window holds more than `2n − 1`, and the long-run rate is `n` per window.
    #[test]
    fn a_burst_then_the_steady_rate() {
        let limiter = RateLimiter::new("10/100ms".parse().unwrap());
        let t0 = Instant::now();
        let mut passed = Vec::new();
        // A client trying every millisecond for a second.
        for ms in 0..1_000_u64 {
            if limiter.take("a", 1, t0 + Duration::from_millis(ms)).is_ok() {
                passed.push(ms);
            }
        }
        let burst: Vec<u64> = (0..10).collect();
        assert_eq!(&passed[..10], &burst[..], "the burst, one try per ms");
        for pair in passed[10..].windows(2) {
            assert_eq!(pair[1] - pair[0], 10, "{passed:?}");
        }
        for (i, &start) in passed.iter().enumerate() {
            let in_window = passed[i..].iter().take_while(|&&t| t < start + 100).count();
            assert!(in_window <= 19, "{in_window} in the window from {start} ms");
        }
        // 10 in the first 10 ms, then one per 10 ms from 10 ms on.
        assert_eq!(passed.len(), 10 + 99);
    }

    #[test]
    fn streams_are_counted_per_tenant_and_given_back() {
        let streams = TenantStreams::default();
        let a1 = streams.open("a", 2).unwrap();
        let _a2 = streams.open("a", 2).unwrap();
        assert!(streams.open("a", 2).is_none());
        let _b = streams.open("b", 2).unwrap();
        drop(a1);
        assert!(streams.open("a", 2).is_some());
    }
}
