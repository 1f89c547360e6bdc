//! Address classification: why an address is refused ([`Blocked`]), the refused IPv4 and IPv6
//! ranges as data ([`V4_BLOCKED`], [`V6_RULES`]) and [`classify`], which judges an address by them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
pub(super) const V4_BLOCKED: &[(Ipv4Addr, u8, Blocked)] = &[
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
pub(super) enum V6Rule {
    Block(Blocked),
    /// The low 32 bits are an IPv4 address: judge that.
    EmbedsV4,
    /// Bits 16..48 are an IPv4 address (6to4): judge that.
    Embeds6to4,
}

/// IPv6 ranges that are refused or judged by an embedded IPv4 address. First match wins, as for
/// [`V4_BLOCKED`]. The last three entries refuse everything outside global unicast `2000::/3`.
#[rustfmt::skip]
pub(super) const V6_RULES: &[(Ipv6Addr, u8, V6Rule)] = &[
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
pub(super) fn to_bits(ip: IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(ip) => (ip.to_bits().into(), 32),
        IpAddr::V6(ip) => (ip.to_bits(), 128),
    }
}

/// Whether `a` and `b`, addresses `width` bits wide, agree on their first `prefix` bits.
pub(super) fn same_prefix(a: u128, b: u128, prefix: u8, width: u32) -> bool {
    (a ^ b).checked_shr(width - u32::from(prefix)).unwrap_or(0) == 0
}

/// Whether `bits`, an address `width` bits wide, has no bit set past its first `prefix` bits.
pub(super) fn host_bits_clear(bits: u128, prefix: u8, width: u32) -> bool {
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
