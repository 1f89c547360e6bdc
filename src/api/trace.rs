//! W3C trace context (<https://www.w3.org/TR/trace-context/>) of a submission: the request's
//! `traceparent` header, when it is valid. The job keeps it
//! ([`crate::job::Job::traceparent`]): the worker that claims the job gets it, and the job's
//! log lines carry its trace id, so one trace id follows a job from the submitting request to
//! the worker and back. As the recommendation says, a malformed header is ignored, not
//! refused. A request without one gives its jobs none (nothing is stored for them).

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The trace context a submission's jobs carry, if its request had a valid one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent(pub Option<Arc<str>>);

impl TraceParent {
    /// `header` if it is a valid `traceparent`: version (not `ff`), a 32-digit trace id and a
    /// 16-digit parent id (neither all zeros), flags, all lowercase hex. A version above 00
    /// may append fields (`-…`), which are dropped.
    pub fn parse(header: &str) -> Option<Arc<str>> {
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
        valid.then(|| format!("{version}-{trace}-{parent}-{flags}").into())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TraceParent {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get("traceparent");
        let parsed = header
            .and_then(|v| v.to_str().ok())
            .and_then(TraceParent::parse);
        Ok(TraceParent(parsed))
    }
}

#[cfg(test)]
mod tests {
    use super::TraceParent;

    #[test]
    fn valid_headers_are_kept_and_others_ignored() {
        let parse = |h: &str| TraceParent::parse(h).map(|t| t.to_string());
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(parse(good).as_deref(), Some(good));
        assert_eq!(parse(&format!(" {good} ")).as_deref(), Some(good));
        // A later version may add fields: dropped.
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra";
        assert_eq!(
            parse(later).as_deref(),
            Some("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
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
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
