//! The `application/problem+json` answers many routes share, written once for the OpenAPI
//! document: `responses(..., StoreErrors)` in a route's `#[utoipa::path]` adds them.

use std::collections::BTreeMap;

use utoipa::IntoResponses;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, response::Response};

const UNAUTHORIZED: &str = "API keys are configured and none or an unknown one was sent";
const FORBIDDEN: &str = "The key's role does not reach this route (`forbidden`: a worker key \
                         outside the workers' routes, or a submit key on them)";
const INTERNAL: &str = "Internal error (logged)";
const UNAVAILABLE: &str = "Overloaded, timed out or the job store is unreachable (`Retry-After`)";
const STORAGE_FULL: &str = "A write found the job store without room (a full disk: `storage_full`, \
                            `Retry-After`); nothing was stored";

/// 401: API keys are configured and the request has none or an unknown one; 403: its
/// key's role does not reach the route.
pub struct Unauthorized;

/// What any route that reads or writes the store may answer besides its own: 401 (no key),
/// 403 (a key of the other role), 500 (an internal error, logged), 503 (overloaded, timed
/// out, the store unreachable) and 507 (a write found the store's disk full).
pub struct StoreErrors;

impl IntoResponses for Unauthorized {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(&[(401, UNAUTHORIZED), (403, FORBIDDEN)])
    }
}

impl IntoResponses for StoreErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(&[
            (401, UNAUTHORIZED),
            (403, FORBIDDEN),
            (500, INTERNAL),
            (503, UNAVAILABLE),
            (507, STORAGE_FULL),
        ])
    }
}

fn answers(list: &[(u16, &str)]) -> BTreeMap<String, RefOr<Response>> {
    (list.iter())
        .map(|&(status, description)| (status.to_string(), problem(description)))
        .collect()
}

/// A response with a `Problem` body.
fn problem(description: &str) -> RefOr<Response> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", content)
        .build()
        .into()
}
