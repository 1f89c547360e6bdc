//! Tests of the SSRF guard, split like the guard itself: [`classify`] for the ranges and
//! [`policy`] for everything that decides or enforces. None sends a packet: the only name
//! resolved is `localhost`, from `/etc/hosts`, and the reqwest test uses a resolver that fails
//! before any connection.

mod classify;
mod policy;

use std::net::IpAddr;

/// `s` as an IP address; panics if it is not one.
fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
