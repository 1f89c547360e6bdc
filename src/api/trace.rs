//! W3C trace context (<https://www.w3.org/TR/trace-context/>) of a submission: the request's
//! `traceparent` header when it is valid, else a new one the server starts. The job keeps it
//! ([`crate::job::Job::traceparent`]): the worker that claims the job gets it, and the job's
//! log lines carry its trace id, so one trace id follows a job from the submitting request to
//! the worker and back. As the recommendation says, a malformed header is ignored (a new
//! trace starts), not refused.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The trace context a submission's jobs carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent(pub String);

impl TraceParent {
    /// A new trace: random trace and parent ids, sampled.
    pub fn start() -> Self {
        let trace = loop {
            let id = fastrand::u128(..);
            if id != 0 {
                break id;
            }
        };
        let parent = fastrand::u64(1..);
        Self(format!("00-{trace:032x}-{parent:016x}-01"))
    }

    /// `header` if it is a valid `traceparent`: version (not `ff`), a 32-digit trace id and a
    /// 16-digit parent id (neither all zeros), flags, all lowercase hex. A version above 00
    /// may append fields (`-…`), which are dropped.
    pub fn parse(header: &str) -> Option<Self> {
        let hex = |s: &str, len: usize| {
            s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        let zero = |s: &str| s.bytes().all(|b| b == b'0');
        let mut parts = header.trim().split('-');
        let (version, trace, parent, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let rest = parts.next();
        let valid = hex(version, 2)
            && version != "ff"
            && hex(trace, 32)
            && !zero(trace)
            && hex(parent, 16)
            && !zero(parent)
            && hex(flags, 2)
            && (rest.is_none() || version != "00");
        valid.then(|| Self(format!("{version}-{trace}-{parent}-{flags}")))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TraceParent {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get("traceparent");
        let parsed = header
            .and_then(|v| v.to_str().ok())
            .and_then(TraceParent::parse);
        Ok(parsed.unwrap_or_else(TraceParent::start))
    }
}

#[cfg(test)]
mod tests {
    use super::TraceParent;

    #[test]
    fn valid_headers_are_kept_and_others_start_a_new_trace() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(TraceParent::parse(good), Some(TraceParent(good.into())));
        assert_eq!(
            TraceParent::parse(&format!(" {good} ")).map(|t| t.0),
            Some(good.into())
        );
        // A later version may add fields: dropped.
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra";
        assert_eq!(
            TraceParent::parse(later).map(|t| t.0),
            Some("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00".into())
        );
        for bad in [
            "",
            "00",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
        let started = TraceParent::start().0;
        assert_eq!(
            TraceParent::parse(&started).map(|t| t.0),
            Some(started.clone())
        );
        assert_ne!(TraceParent::start().0, started);
    }
}
