//! The guard's policy: networks ([`Cidr`]), exceptions ([`Allow`]) and [`Policy`], which decides
//! whether an address, or the IP-literal host of a URL, may be connected to.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use reqwest::Url;

use super::GuardError;
use super::classify::{Blocked, classify, host_bits_clear, same_prefix, to_bits};

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
    /// the resolver. A domain is Ok here: [`GuardedResolver`](super::GuardedResolver) checks what
    /// it resolves to.
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
