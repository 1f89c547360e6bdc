//! Tests of address classification: a table of addresses with the verdict for each, the soundness
//! of the range tables, the reason names, and IPv6 forms that embed an IPv4 address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::super::classify::{
    Blocked, V4_BLOCKED, V6_RULES, classify, host_bits_clear, same_prefix,
};
use super::ip;

use Blocked::*;

/// Every range's first and last address and its neighbours just outside, and familiar addresses.
pub(super) const CASES: &[(&str, Option<Blocked>)] = &[
    ("0.0.0.0", Some(Unspecified)),
    ("0.255.255.255", Some(Unspecified)),
    ("1.0.0.0", None),
    ("1.1.1.1", None),
    ("8.8.8.8", None),
    ("9.255.255.255", None),
    ("10.0.0.0", Some(Private)),
    ("10.255.255.255", Some(Private)),
    ("11.0.0.0", None),
    ("100.63.255.255", None),
    ("100.64.0.0", Some(SharedCgnat)),
    ("100.127.255.255", Some(SharedCgnat)),
    ("100.128.0.0", None),
    ("126.255.255.255", None),
    ("127.0.0.0", Some(Loopback)),
    ("127.0.0.1", Some(Loopback)),
    ("127.255.255.255", Some(Loopback)),
    ("128.0.0.0", None),
    ("169.253.255.255", None),
    ("169.254.0.0", Some(LinkLocal)),
    ("169.254.169.254", Some(LinkLocal)),
    ("169.254.255.255", Some(LinkLocal)),
    ("169.255.0.0", None),
    ("172.15.255.255", None),
    ("172.16.0.0", Some(Private)),
    ("172.31.255.255", Some(Private)),
    ("172.32.0.0", None),
    ("191.255.255.255", None),
    ("192.0.0.0", Some(Reserved)),
    ("192.0.0.255", Some(Reserved)),
    ("192.0.1.0", None),
    ("192.0.2.0", Some(Documentation)),
    ("192.0.2.255", Some(Documentation)),
    ("192.0.3.0", None),
    ("192.88.98.255", None),
    ("192.88.99.0", Some(Reserved)),
    ("192.88.99.255", Some(Reserved)),
    ("192.88.100.0", None),
    ("192.167.255.255", None),
    ("192.168.0.0", Some(Private)),
    ("192.168.255.255", Some(Private)),
    ("192.169.0.0", None),
    ("198.17.255.255", None),
    ("198.18.0.0", Some(Benchmarking)),
    ("198.19.255.255", Some(Benchmarking)),
    ("198.20.0.0", None),
    ("198.51.99.255", None),
    ("198.51.100.0", Some(Documentation)),
    ("198.51.100.255", Some(Documentation)),
    ("198.51.101.0", None),
    ("203.0.112.255", None),
    ("203.0.113.0", Some(Documentation)),
    ("203.0.113.255", Some(Documentation)),
    ("203.0.114.0", None),
    ("223.255.255.255", None),
    ("224.0.0.0", Some(Multicast)),
    ("239.255.255.255", Some(Multicast)),
    ("240.0.0.0", Some(Reserved)),
    ("255.255.255.254", Some(Reserved)),
    ("255.255.255.255", Some(Broadcast)),
    // IPv6, with embedded IPv4 judged by the IPv4 address.
    ("::", Some(Unspecified)),
    ("::1", Some(Loopback)),
    ("::2", Some(Unspecified)),
    ("::ffff:127.0.0.1", Some(Loopback)),
    ("::ffff:7f00:1", Some(Loopback)),
    ("::ffff:10.0.0.1", Some(Private)),
    ("::ffff:169.254.169.254", Some(LinkLocal)),
    ("::ffff:0.0.0.0", Some(Unspecified)),
    ("::ffff:8.8.8.8", None),
    ("::127.0.0.1", Some(Loopback)),
    ("::8.8.8.8", None),
    ("::1:0:0", Some(Reserved)),
    ("::ffff:0:0:0", Some(Reserved)),
    ("64:ff9b::a00:1", Some(Private)),
    ("64:ff9b::7f00:1", Some(Loopback)),
    ("64:ff9b::808:808", None),
    ("64:ff9b::1:0:0", Some(Reserved)),
    ("64:ff9b:1::", Some(Private)),
    ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", Some(Private)),
    ("64:ff9b:2::", Some(Reserved)),
    ("100::", Some(Discard)),
    ("100::ffff:ffff:ffff:ffff", Some(Discard)),
    ("100:0:0:1::", Some(Reserved)),
    ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(Reserved)),
    ("2000::", None),
    ("2001::", Some(Teredo)),
    ("2001::1", Some(Teredo)),
    ("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", Some(Teredo)),
    ("2001:1::1", Some(Reserved)),
    ("2001:2::1", Some(Benchmarking)),
    ("2001:2:0:ffff::", Some(Benchmarking)),
    ("2001:2:1::", Some(Reserved)),
    ("2001:10::1", Some(Orchid)),
    ("2001:1f:ffff::", Some(Orchid)),
    ("2001:20::1", Some(Orchid)),
    ("2001:2f:ffff::", Some(Orchid)),
    ("2001:30::1", Some(Reserved)),
    ("2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", Some(Reserved)),
    ("2001:200::1", None),
    ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", None),
    ("2001:db8::", Some(Documentation)),
    ("2001:db8::1", Some(Documentation)),
    (
        "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
        Some(Documentation),
    ),
    ("2001:db9::", None),
    ("2001:4860:4860::8888", None),
    ("2002::", Some(Unspecified)),
    ("2002:7f00:1::", Some(Loopback)),
    ("2002:a00:1::", Some(Private)),
    ("2002:a9fe:a9fe::1", Some(LinkLocal)),
    ("2002:808:808::", None),
    ("2606:4700::1111", None),
    ("3ffe:ffff::", None),
    ("3fff::", Some(Documentation)),
    (
        "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some(Documentation),
    ),
    ("3fff:1000::", None),
    ("4000::", Some(Reserved)),
    ("5f00::1", Some(Reserved)),
    ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(Reserved)),
    ("fc00::", Some(UniqueLocal)),
    ("fc00::1", Some(UniqueLocal)),
    ("fdff::1", Some(UniqueLocal)),
    ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(UniqueLocal)),
    ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(Reserved)),
    ("fe80::", Some(LinkLocal)),
    ("fe80::1", Some(LinkLocal)),
    ("febf::1", Some(LinkLocal)),
    ("fec0::", Some(SiteLocal)),
    ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(SiteLocal)),
    ("ff00::", Some(Multicast)),
    ("ff02::1", Some(Multicast)),
    ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(Multicast)),
];

#[test]
fn classifies_the_table() {
    let wrong: Vec<_> = CASES
        .iter()
        .filter(|(addr, want)| classify(ip(addr)) != *want)
        .map(|(addr, want)| format!("{addr}: got {:?}, want {want:?}", classify(ip(addr))))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// No entry lies inside an earlier one (it would never match), and no network has bits set
/// past its prefix.
fn assert_table_sound(table: &[(u128, u8)], width: u32) {
    for (i, &(net, prefix)) in table.iter().enumerate() {
        assert!(
            host_bits_clear(net, prefix, width),
            "entry {i} has bits past its prefix"
        );
        for (j, &(earlier, p)) in table[..i].iter().enumerate() {
            let shadowed = p <= prefix && same_prefix(net, earlier, p, width);
            assert!(!shadowed, "entry {i} is inside entry {j} and never matches");
        }
    }
}

#[test]
fn tables_have_no_shadowed_entries() {
    let v4: Vec<_> = V4_BLOCKED
        .iter()
        .map(|(n, p, _)| (u128::from(n.to_bits()), *p))
        .collect();
    assert_table_sound(&v4, 32);
    let v6: Vec<_> = V6_RULES.iter().map(|(n, p, _)| (n.to_bits(), *p)).collect();
    assert_table_sound(&v6, 128);
}

#[test]
fn reason_names_are_distinct_snake_case() {
    let all = [
        Unspecified,
        Loopback,
        Private,
        SharedCgnat,
        LinkLocal,
        Multicast,
        Broadcast,
        Documentation,
        Benchmarking,
        Reserved,
        UniqueLocal,
        SiteLocal,
        Teredo,
        Discard,
        Orchid,
    ];
    let mut names: Vec<_> = all.iter().map(|b| b.as_str()).collect();
    assert!(
        names
            .iter()
            .all(|n| n.bytes().all(|c| c.is_ascii_lowercase() || c == b'_'))
    );
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all.len());
    assert_eq!(LinkLocal.to_string(), "link_local");
}

proptest! {
    #[test]
    fn embedded_ipv4_is_judged_as_itself(bits: u32) {
        let v4 = Ipv4Addr::from_bits(bits);
        let want = classify(IpAddr::V4(v4));
        let mapped = v4.to_ipv6_mapped();
        let nat64 = Ipv6Addr::from_bits(0x64_ff9b_u128 << 96 | u128::from(bits));
        let six_to_four = Ipv6Addr::from_bits(0x2002_u128 << 112 | u128::from(bits) << 80);
        prop_assert_eq!(classify(IpAddr::V6(mapped)), want);
        prop_assert_eq!(classify(IpAddr::V6(nat64)), want);
        prop_assert_eq!(classify(IpAddr::V6(six_to_four)), want);
    }
}
