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
//! [`classify`] is the heart: the ranges it refuses are data (`V4_BLOCKED`, `V6_RULES`), one
//! entry per line with its RFC, so they can be audited against the IANA IPv4 and IPv6
//! Special-Purpose Address Registries. IPv6 addresses that embed an IPv4 address (IPv4-mapped,
//! IPv4-compatible, NAT64, 6to4) are judged by the embedded address.
//!
//! Errors from the resolver reach the fetcher wrapped in a `reqwest::Error`; [`find_in`] digs the
//! [`GuardError`] out of the source chain.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Blocked {
    /// `0.0.0.0/8` ("this network"), `::`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 networks, and the local-use NAT64 prefix `64:ff9b:1::/48`.
    Private,
    /// `100.64.0.0/10`, carrier-grade NAT.
    SharedCgnat,
    /// `169.254.0.0/16` (where cloud metadata services live), `fe80::/10`.
    LinkLocal,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// The documentation ranges (TEST-NET-1/2/3, `2001:db8::/32`, `3fff::/20`).
    Documentation,
    /// `198.18.0.0/15`, `2001:2::/48`.
    Benchmarking,
    /// Reserved, deprecated or protocol-specific: `240.0.0.0/4`, IETF protocol assignments, the
    /// 6to4 relay anycast, and all IPv6 outside the global unicast `2000::/3`.
    Reserved,
    /// `fc00::/7`.
    UniqueLocal,
    /// `fec0::/10` (deprecated).
    SiteLocal,
    /// `2001::/32`: Teredo addresses embed an obfuscated IPv4 address and port.
    Teredo,
    /// `100::/64`, the discard-only prefix.
    Discard,
    /// ORCHID and ORCHIDv2 (`2001:10::/28`, `2001:20::/28`): identifiers, not locators.
    Orchid,
}

impl Blocked {
    /// A stable snake_case name, e.g. `"loopback"`, `"link_local"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::SharedCgnat => "shared_cgnat",
            Self::LinkLocal => "link_local",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::Reserved => "reserved",
            Self::UniqueLocal => "unique_local",
            Self::SiteLocal => "site_local",
            Self::Teredo => "teredo",
            Self::Discard => "discard",
            Self::Orchid => "orchid",
        }
    }
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Refused IPv4 ranges. First match wins, so an entry comes before any entry that contains it
/// (a test checks that none is shadowed).
#[rustfmt::skip]
const V4_BLOCKED: &[(Ipv4Addr, u8, Blocked)] = &[
    (Ipv4Addr::new(0, 0, 0, 0),         8,  Blocked::Unspecified),   // RFC 791 "this network"
    (Ipv4Addr::new(10, 0, 0, 0),        8,  Blocked::Private),       // RFC 1918
    (Ipv4Addr::new(100, 64, 0, 0),      10, Blocked::SharedCgnat),   // RFC 6598
    (Ipv4Addr::new(127, 0, 0, 0),       8,  Blocked::Loopback),      // RFC 1122
    (Ipv4Addr::new(169, 254, 0, 0),     16, Blocked::LinkLocal),     // RFC 3927
    (Ipv4Addr::new(172, 16, 0, 0),      12, Blocked::Private),       // RFC 1918
    (Ipv4Addr::new(192, 0, 0, 0),       24, Blocked::Reserved),      // RFC 6890 IETF protocol
    (Ipv4Addr::new(192, 0, 2, 0),       24, Blocked::Documentation), // RFC 5737 TEST-NET-1
    (Ipv4Addr::new(192, 88, 99, 0),     24, Blocked::Reserved),      // RFC 7526 6to4 relay
    (Ipv4Addr::new(192, 168, 0, 0),     16, Blocked::Private),       // RFC 1918
    (Ipv4Addr::new(198, 18, 0, 0),      15, Blocked::Benchmarking),  // RFC 2544
    (Ipv4Addr::new(198, 51, 100, 0),    24, Blocked::Documentation), // RFC 5737 TEST-NET-2
    (Ipv4Addr::new(203, 0, 113, 0),     24, Blocked::Documentation), // RFC 5737 TEST-NET-3
    (Ipv4Addr::new(224, 0, 0, 0),       4,  Blocked::Multicast),     // RFC 5771
    (Ipv4Addr::new(255, 255, 255, 255), 32, Blocked::Broadcast),     // RFC 919
    (Ipv4Addr::new(240, 0, 0, 0),       4,  Blocked::Reserved),      // RFC 1112 "future use"
];

/// What to do with an IPv6 address inside a range of [`V6_RULES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V6Rule {
    Block(Blocked),
    /// The low 32 bits are an IPv4 address: judge that.
    EmbedsV4,
    /// Bits 16..48 are an IPv4 address (6to4): judge that.
    Embeds6to4,
}

/// IPv6 ranges that are refused or judged by an embedded IPv4 address. First match wins, as for
/// [`V4_BLOCKED`]. The last three entries refuse everything outside global unicast `2000::/3`.
#[rustfmt::skip]
const V6_RULES: &[(Ipv6Addr, u8, V6Rule)] = &[
    (Ipv6Addr::UNSPECIFIED,     128, V6Rule::Block(Blocked::Unspecified)),   // RFC 4291
    (Ipv6Addr::LOCALHOST,       128, V6Rule::Block(Blocked::Loopback)),      // RFC 4291
    (MAPPED,                    96,  V6Rule::EmbedsV4),                      // RFC 4291 v4-mapped
    (v6(0, 0, 0),               96,  V6Rule::EmbedsV4),                      // RFC 4291 compatible
    (v6(0x64, 0xff9b, 0),       96,  V6Rule::EmbedsV4),                      // RFC 6052 NAT64
    (v6(0x64, 0xff9b, 1),       48,  V6Rule::Block(Blocked::Private)),       // RFC 8215 local NAT64
    (v6(0x100, 0, 0),           64,  V6Rule::Block(Blocked::Discard)),       // RFC 6666
    (v6(0x2001, 0, 0),          32,  V6Rule::Block(Blocked::Teredo)),        // RFC 4380
    (v6(0x2001, 2, 0),          48,  V6Rule::Block(Blocked::Benchmarking)),  // RFC 5180
    (v6(0x2001, 0x10, 0),       28,  V6Rule::Block(Blocked::Orchid)),        // RFC 4843
    (v6(0x2001, 0x20, 0),       28,  V6Rule::Block(Blocked::Orchid)),        // RFC 7343
    (v6(0x2001, 0, 0),          23,  V6Rule::Block(Blocked::Reserved)),      // RFC 2928 IETF
    (v6(0x2001, 0xdb8, 0),      32,  V6Rule::Block(Blocked::Documentation)), // RFC 3849
    (v6(0x2002, 0, 0),          16,  V6Rule::Embeds6to4),                    // RFC 3056 6to4
    (v6(0x3fff, 0, 0),          20,  V6Rule::Block(Blocked::Documentation)), // RFC 9637
    (v6(0xfc00, 0, 0),          7,   V6Rule::Block(Blocked::UniqueLocal)),   // RFC 4193
    (v6(0xfe80, 0, 0),          10,  V6Rule::Block(Blocked::LinkLocal)),     // RFC 4291
    (v6(0xfec0, 0, 0),          10,  V6Rule::Block(Blocked::SiteLocal)),     // RFC 3879
    (v6(0xff00, 0, 0),          8,   V6Rule::Block(Blocked::Multicast)),     // RFC 4291
    (v6(0, 0, 0),               3,   V6Rule::Block(Blocked::Reserved)),      // not 2000::/3
    (v6(0x4000, 0, 0),          2,   V6Rule::Block(Blocked::Reserved)),      // not 2000::/3
    (v6(0x8000, 0, 0),          1,   V6Rule::Block(Blocked::Reserved)),      // not 2000::/3
];

/// `::ffff:0.0.0.0`, the start of the IPv4-mapped range.
const MAPPED: Ipv6Addr = Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0);

/// An IPv6 address from its first three 16-bit groups, to keep [`V6_RULES`] short.
const fn v6(a: u16, b: u16, c: u16) -> Ipv6Addr {
    Ipv6Addr::new(a, b, c, 0, 0, 0, 0, 0)
}

/// `ip` as a number, and its width in bits.
fn to_bits(ip: IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(ip) => (ip.to_bits().into(), 32),
        IpAddr::V6(ip) => (ip.to_bits(), 128),
    }
}

/// Whether `a` and `b`, addresses `width` bits wide, agree on their first `prefix` bits.
fn same_prefix(a: u128, b: u128, prefix: u8, width: u32) -> bool {
    (a ^ b).checked_shr(width - u32::from(prefix)).unwrap_or(0) == 0
}

/// Whether `bits`, an address `width` bits wide, has no bit set past its first `prefix` bits.
fn host_bits_clear(bits: u128, prefix: u8, width: u32) -> bool {
    bits.checked_shl(128 - width + u32::from(prefix))
        .unwrap_or(0)
        == 0
}

/// Why `ip` is refused, or `None` when it is a public unicast address.
pub fn classify(ip: IpAddr) -> Option<Blocked> {
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => classify_v6(ip),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Blocked> {
    let bits = u128::from(ip.to_bits());
    V4_BLOCKED
        .iter()
        .find(|(net, prefix, _)| same_prefix(bits, net.to_bits().into(), *prefix, 32))
        .map(|&(_, _, reason)| reason)
}

fn classify_v6(ip: Ipv6Addr) -> Option<Blocked> {
    let bits = ip.to_bits();
    let rule = V6_RULES
        .iter()
        .find(|(net, prefix, _)| same_prefix(bits, net.to_bits(), *prefix, 128))
        .map(|&(_, _, rule)| rule)?;
    match rule {
        V6Rule::Block(reason) => Some(reason),
        V6Rule::EmbedsV4 => classify_v4(Ipv4Addr::from_bits(bits as u32)),
        V6Rule::Embeds6to4 => classify_v4(Ipv4Addr::from_bits((bits >> 80) as u32)),
    }
}

/// A network in CIDR notation. An IPv4 network also contains the IPv4-mapped IPv6 forms of its
/// addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The network address: no bits set past `prefix`, and never an IPv4-mapped IPv6 address.
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The network holding `ip` alone.
    pub fn single(ip: IpAddr) -> Self {
        let ip = ip.to_canonical();
        let prefix = if ip.is_ipv4() { 32 } else { 128 };
        Self { addr: ip, prefix }
    }

    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (net, width) = to_bits(self.addr);
        let (ip, ip_width) = to_bits(ip.to_canonical());
        width == ip_width && same_prefix(net, ip, self.prefix, width)
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// Parses `addr/prefix`; the address must have no bits set past the prefix.
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} has no /prefix"))?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is no IP address"))?;
        let (bits, width) = to_bits(addr);
        let prefix = match prefix.parse::<u8>() {
            Ok(p) if u32::from(p) <= width && prefix.bytes().all(|b| b.is_ascii_digit()) => p,
            _ => {
                return Err(format!(
                    "prefix {prefix:?} is not a number from 0 to {width}"
                ));
            }
        };
        if !host_bits_clear(bits, prefix, width) {
            return Err(format!(
                "{s} has address bits set past the /{prefix} prefix"
            ));
        }
        Ok(match addr {
            // `::ffff:a.b.c.d/n` is the IPv4 network `a.b.c.d/(n - 96)`.
            IpAddr::V6(a) if prefix >= 96 && a.to_ipv4_mapped().is_some() => Self {
                addr: addr.to_canonical(),
                prefix: prefix - 96,
            },
            _ => Self { addr, prefix },
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// An exception to the blocking, parsed by [`Policy::parse_allow`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allow {
    /// Addresses inside this network.
    Net(Cidr),
    /// Whatever this host name resolves to. Lower-case, without a trailing dot.
    Host(String),
    /// Whatever any name under this domain resolves to (`*.corp.example`: `a.corp.example` and
    /// `a.b.corp.example`, not `corp.example` itself). Lower-case, without `*.`.
    Subdomains(String),
}

impl Allow {
    /// Whether this exception covers `ip`, reached through the host name `host`, if any.
    pub fn permits(&self, host: Option<&str>, ip: IpAddr) -> bool {
        let host = host.map(|h| h.strip_suffix('.').unwrap_or(h).as_bytes());
        match self {
            Self::Net(net) => net.contains(ip),
            Self::Host(name) => host.is_some_and(|h| h.eq_ignore_ascii_case(name.as_bytes())),
            Self::Subdomains(domain) => host.is_some_and(|h| {
                let d = domain.as_bytes();
                h.len() > d.len() + 1
                    && h[h.len() - d.len()..].eq_ignore_ascii_case(d)
                    && h[h.len() - d.len() - 1] == b'.'
            }),
        }
    }
}

impl FromStr for Allow {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Policy::parse_allow(s)
    }
}

impl fmt::Display for Allow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Net(net) => net.fmt(f),
            Self::Host(name) => f.write_str(name),
            Self::Subdomains(domain) => write!(f, "*.{domain}"),
        }
    }
}

/// Validates a host name for an [`Allow`], returning it lower-case without a trailing dot.
fn host_name(s: &str) -> Result<String, String> {
    let name = s.strip_suffix('.').unwrap_or(s);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(format!(
            "{s:?} is not a CIDR, an IP address, a host name or *.domain"
        ));
    }
    Ok(name.to_ascii_lowercase())
}

/// What the guard lets through. The default refuses every non-public address.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Lifts all blocking (for tests and trusted deployments).
    pub allow_private: bool,
    /// Exceptions: refused addresses they cover are allowed.
    pub allow: Vec<Allow>,
}

impl Policy {
    /// Parses an exception: a CIDR (`10.0.0.0/8`, `fd00::/8`), an IP address (a single-address
    /// network), a host name (`intranet.example.com`, matched case-insensitively) or `*.domain`.
    pub fn parse_allow(s: &str) -> Result<Allow, String> {
        let s = s.trim();
        if s.contains('/') {
            return s.parse().map(Allow::Net);
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Allow::Net(Cidr::single(ip)));
        }
        match s.strip_prefix("*.") {
            Some(domain) => host_name(domain).map(Allow::Subdomains),
            None => host_name(s).map(Allow::Host),
        }
    }

    /// Ok when connecting to `ip` (reached through the host name `host`, if any) is allowed.
    pub fn check(&self, host: Option<&str>, ip: IpAddr) -> Result<(), Blocked> {
        let Some(reason) = classify(ip) else {
            return Ok(());
        };
        if self.allow_private || self.allow.iter().any(|a| a.permits(host, ip)) {
            Ok(())
        } else {
            Err(reason)
        }
    }

    /// Checks the host of `url` if it is an IP literal, which reqwest connects to without calling
    /// the resolver. A domain is Ok here: [`GuardedResolver`] checks what it resolves to.
    pub fn check_url(&self, url: &Url) -> Result<(), GuardError> {
        let host = url.host_str().ok_or(GuardError::NoHost)?;
        let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
        match literal.unwrap_or(host).parse::<IpAddr>() {
            Ok(ip) => self
                .check(None, ip)
                .map_err(|reason| GuardError::Literal { ip, reason }),
            Err(_) => Ok(()),
        }
    }
}

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
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(found) = e.downcast_ref::<GuardError>() {
            return Some(found);
        }
        cur = e.source();
    }
    None
}

/// A reqwest DNS resolver that resolves with the system resolver and returns only the addresses
/// its [`Policy`] allows. Install it with `ClientBuilder::dns_resolver`.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<Policy>,
}

impl GuardedResolver {
    /// A resolver enforcing `policy`.
    pub fn new(policy: Arc<Policy>) -> Self {
        Self { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str();
            let found =
                tokio::net::lookup_host((host, 0))
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
#[path = "guard_tests.rs"]
mod tests;
