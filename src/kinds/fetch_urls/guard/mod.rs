//! The SSRF guard of `fetch_urls`: by default, refuse to connect to anything that is not a public
//! unicast address (loopback, private networks, link-local and cloud metadata, multicast, ...).
//!
//! The check is made on the addresses actually connected to, at two points:
//!
//! - [`GuardedResolver`], a reqwest DNS resolver, resolves host names with the system resolver
//!   and hands reqwest only the addresses the [`Policy`] allows;
//! - [`Policy::check_url`] checks IP-literal hosts, for which reqwest never calls the resolver.
//!   The fetcher calls it on the initial URL and on every redirect hop.
//!
//! [`classify()`] is the heart: the ranges it refuses are data (`V4_BLOCKED`, `V6_RULES` in
//! `classify.rs`), one entry per line with its RFC, so they can be audited against the IANA IPv4
//! and IPv6 Special-Purpose Address Registries. IPv6 addresses that embed an IPv4 address
//! (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are judged by the embedded address. The [`Policy`]
//! and its exceptions ([`Allow`], [`Cidr`]) live in `policy.rs`; this module holds the resolver
//! and its error.
//!
//! Errors from the resolver reach the fetcher wrapped in a `reqwest::Error`; [`find_in`] digs the
//! [`GuardError`] out of the source chain.

mod classify;
mod policy;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

pub use classify::{Blocked, classify};
pub use policy::{Allow, Cidr, Policy};

/// A connection the guard refused, or a name it could not resolve.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// Every address the name resolved to was refused.
    #[error("{host} resolves only to blocked addresses ({ip}: {reason})")]
    Blocked {
        host: String,
        /// The first refused address.
        ip: IpAddr,
        reason: Blocked,
    },
    /// The lookup failed or found no address.
    #[error("cannot resolve {host}: {source}")]
    Dns {
        host: String,
        #[source]
        source: io::Error,
    },
    /// The URL's host is a refused IP literal.
    #[error("refusing to connect to {ip} ({reason} address)")]
    Literal { ip: IpAddr, reason: Blocked },
    /// The URL has no host to check.
    #[error("the URL has no host")]
    NoHost,
}

impl GuardError {
    /// Why the address was refused; `None` for a DNS failure or a URL without a host.
    pub fn reason(&self) -> Option<Blocked> {
        match self {
            Self::Blocked { reason, .. } | Self::Literal { reason, .. } => Some(*reason),
            Self::Dns { .. } | Self::NoHost => None,
        }
    }
}

/// Finds a [`GuardError`] in the source chain of `err` (`err` included).
pub fn find_in<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a GuardError> {
    crate::error_chain::find(err)
}

/// Lookups of the system resolver running at once. Each holds a blocking thread until
/// `getaddrinfo` returns, even when the fetch that asked has given up, so a resolver that never
/// answers can hold at most this many of tokio's blocking threads (which the CPU pool also
/// enters through).
pub const MAX_LOOKUPS: usize = 64;

/// A reqwest DNS resolver that resolves with the system resolver and returns only the addresses
/// its [`Policy`] allows. Install it with `ClientBuilder::dns_resolver`.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<Policy>,
    lookups: Arc<tokio::sync::Semaphore>,
}

impl GuardedResolver {
    /// A resolver enforcing `policy`.
    pub fn new(policy: Arc<Policy>) -> Self {
        Self {
            policy,
            lookups: Arc::new(tokio::sync::Semaphore::new(MAX_LOOKUPS)),
        }
    }
}

/// Resolves `host` with the system resolver on a blocking thread that keeps its lookup
/// permit until `getaddrinfo` returns.
async fn lookup(
    lookups: Arc<tokio::sync::Semaphore>,
    host: &str,
) -> std::io::Result<Vec<SocketAddr>> {
    use std::net::ToSocketAddrs;
    let permit = lookups
        .acquire_owned()
        .await
        .map_err(|_| std::io::Error::other("the resolver is closed"))?;
    let owned = host.to_owned();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        (owned.as_str(), 0).to_socket_addrs().map(Iterator::collect)
    })
    .await
    .map_err(std::io::Error::other)?
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let lookups = Arc::clone(&self.lookups);
        Box::pin(async move {
            let host = name.as_str();
            let found = lookup(lookups, host)
                .await
                .map_err(|source| GuardError::Dns {
                    host: host.to_owned(),
                    source,
                })?;
            let kept = keep_allowed(&policy, host, found)?;
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// The addresses of `found` that `policy` allows for `host`; an error if there are none.
fn keep_allowed(
    policy: &Policy,
    host: &str,
    found: impl IntoIterator<Item = SocketAddr>,
) -> Result<Vec<SocketAddr>, GuardError> {
    let mut kept = Vec::new();
    let mut refused = None;
    for addr in found {
        match policy.check(Some(host), addr.ip()) {
            Ok(()) => kept.push(addr),
            Err(reason) => {
                refused.get_or_insert((addr.ip(), reason));
            }
        }
    }
    if !kept.is_empty() {
        if let Some((ip, reason)) = refused {
            tracing::debug!(host, %ip, %reason, "dropped blocked addresses of a host");
        }
        return Ok(kept);
    }
    match refused {
        Some((ip, reason)) => Err(GuardError::Blocked {
            host: host.to_owned(),
            ip,
            reason,
        }),
        None => Err(GuardError::Dns {
            host: host.to_owned(),
            source: io::Error::new(io::ErrorKind::NotFound, "no addresses found"),
        }),
    }
}

#[cfg(test)]
mod tests;
