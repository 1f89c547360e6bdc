//! Tests of the SSRF guard. None sends a packet: the only name resolved is `localhost`, from
//! `/etc/hosts`, and the reqwest test uses a resolver that fails before any connection.

use super::*;
use proptest::prelude::*;

use Blocked::*;

/// Every range's first and last address and its neighbours just outside, and familiar addresses.
const CASES: &[(&str, Option<Blocked>)] = &[
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

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

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

fn allowing(items: &[&str]) -> Policy {
    let allow = items
        .iter()
        .map(|s| Policy::parse_allow(s).unwrap())
        .collect();
    Policy {
        allow_private: false,
        allow,
    }
}

#[test]
fn default_policy_refuses_blocked_and_passes_public() {
    let p = Policy::default();
    assert_eq!(p.check(None, ip("127.0.0.1")), Err(Loopback));
    assert_eq!(
        p.check(Some("metadata"), ip("169.254.169.254")),
        Err(LinkLocal)
    );
    assert_eq!(p.check(None, ip("8.8.8.8")), Ok(()));
    assert_eq!(
        p.check(Some("dns.google"), ip("2001:4860:4860::8888")),
        Ok(())
    );
}

#[test]
fn allow_private_lifts_all_blocking() {
    let p = Policy {
        allow_private: true,
        allow: vec![],
    };
    for (addr, _) in CASES {
        assert_eq!(p.check(None, ip(addr)), Ok(()), "{addr}");
    }
}

#[test]
fn cidr_allows_cover_their_networks_only() {
    let p = allowing(&["10.0.0.0/8", "fd00::/8", "192.168.1.5"]);
    assert_eq!(p.check(None, ip("10.1.2.3")), Ok(()));
    assert_eq!(p.check(None, ip("::ffff:10.1.2.3")), Ok(()));
    assert_eq!(p.check(None, ip("11.0.0.1")), Ok(()));
    assert_eq!(p.check(None, ip("127.0.0.1")), Err(Loopback));
    assert_eq!(p.check(None, ip("fd12::1")), Ok(()));
    assert_eq!(p.check(None, ip("fc00::1")), Err(UniqueLocal));
    assert_eq!(p.check(None, ip("192.168.1.5")), Ok(()));
    assert_eq!(p.check(None, ip("192.168.1.6")), Err(Private));
}

#[test]
fn mapped_cidr_is_an_ipv4_network() {
    let allow = Policy::parse_allow("::ffff:10.0.0.0/104").unwrap();
    assert_eq!(allow.to_string(), "10.0.0.0/8");
    assert!(allow.permits(None, ip("10.9.9.9")));
    assert!(allow.permits(None, ip("::ffff:10.9.9.9")));
}

#[test]
fn host_allows_match_case_insensitively() {
    let p = allowing(&["Intranet.Example.com", "*.corp.example"]);
    let private = ip("10.0.0.1");
    for ok in [
        "intranet.example.com",
        "INTRANET.example.COM",
        "intranet.example.com.",
        "a.corp.example",
        "A.B.Corp.Example",
    ] {
        assert_eq!(p.check(Some(ok), private), Ok(()), "{ok}");
    }
    for refused in [
        "example.com",
        "x.intranet.example.com",
        "corp.example",
        "evilcorp.example",
        "corp.example.evil",
        ".corp.example",
    ] {
        assert_eq!(p.check(Some(refused), private), Err(Private), "{refused}");
    }
    assert_eq!(p.check(None, private), Err(Private));
}

#[test]
fn parse_allow_accepts_and_normalises() {
    for (input, shown) in [
        ("10.0.0.0/8", "10.0.0.0/8"),
        (" fd00::/8 ", "fd00::/8"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("::/0", "::/0"),
        ("192.168.1.5", "192.168.1.5/32"),
        ("::1", "::1/128"),
        ("::ffff:127.0.0.1", "127.0.0.1/32"),
        ("Intranet.Example.COM.", "intranet.example.com"),
        ("localhost", "localhost"),
        ("*.Corp.example", "*.corp.example"),
    ] {
        let allow = Policy::parse_allow(input).unwrap();
        assert_eq!(allow.to_string(), shown, "{input}");
        assert_eq!(shown.parse::<Allow>().unwrap(), allow, "{shown}");
    }
}

#[test]
fn parse_allow_rejects_bad_input() {
    for bad in [
        "10.0.0.0/33",
        "::/129",
        "",
        "a b",
        "10.0.0.1/8",
        "fd00::1/8",
        "10.0.0.0/",
        "10.0.0.0/+8",
        "/8",
        "10.0.0/8",
        "*",
        "*.",
        "a..b",
        "*.*.example",
        "http://example.com",
        "[::1]",
        "bücher.example",
    ] {
        assert!(Policy::parse_allow(bad).is_err(), "{bad:?} was accepted");
    }
    let long_label = format!("{}.example", "a".repeat(64));
    assert!(Policy::parse_allow(&long_label).is_err());
}

fn url_check(policy: &Policy, url: &str) -> Result<(), Option<Blocked>> {
    let url = Url::parse(url).unwrap();
    policy.check_url(&url).map_err(|e| e.reason())
}

#[test]
fn check_url_refuses_blocked_ip_literals() {
    let p = Policy::default();
    for url in [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "https://[::ffff:127.0.0.1]/",
        "http://[::1]:8080/",
        "foo://127.0.0.1/",
    ] {
        assert_eq!(url_check(&p, url), Err(Some(Loopback)), "{url}");
    }
    assert_eq!(
        url_check(&p, "http://169.254.169.254/latest/meta-data/"),
        Err(Some(LinkLocal))
    );
    assert_eq!(url_check(&p, "http://[fe80::1]/"), Err(Some(LinkLocal)));
}

#[test]
fn check_url_passes_domains_and_public_literals() {
    let p = Policy::default();
    assert_eq!(url_check(&p, "http://localhost/"), Ok(()));
    assert_eq!(url_check(&p, "http://8.8.8.8/"), Ok(()));
    assert_eq!(url_check(&p, "https://[2606:4700::1111]/"), Ok(()));
    let open = allowing(&["127.0.0.0/8"]);
    assert_eq!(url_check(&open, "http://127.0.0.1/"), Ok(()));
    let err = p.check_url(&Url::parse("data:text/plain,hi").unwrap());
    assert!(matches!(err, Err(GuardError::NoHost)));
}

fn sock(s: &str) -> SocketAddr {
    SocketAddr::new(ip(s), 0)
}

#[test]
fn resolution_keeps_only_allowed_addresses() {
    let p = Policy::default();
    let kept = keep_allowed(&p, "mixed.test", [sock("127.0.0.1"), sock("8.8.8.8")]).unwrap();
    assert_eq!(kept, [sock("8.8.8.8")]);

    let err = keep_allowed(&p, "inside.test", [sock("10.0.0.1"), sock("::1")]).unwrap_err();
    assert!(
        matches!(err, GuardError::Blocked { ref host, ip, reason: Private }
            if host == "inside.test" && ip == sock("10.0.0.1").ip()),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "inside.test resolves only to blocked addresses (10.0.0.1: private)"
    );

    let err = keep_allowed(&p, "empty.test", []).unwrap_err();
    assert!(matches!(err, GuardError::Dns { .. }), "{err:?}");

    let p = allowing(&["inside.test"]);
    let kept = keep_allowed(&p, "inside.test", [sock("10.0.0.1")]).unwrap();
    assert_eq!(kept, [sock("10.0.0.1")]);
}

async fn resolve_localhost(policy: Policy) -> Result<Vec<SocketAddr>, GuardError> {
    let resolver = GuardedResolver::new(Arc::new(policy));
    match resolver.resolve("localhost".parse().unwrap()).await {
        Ok(addrs) => Ok(addrs.collect()),
        Err(err) => {
            let found = find_in(&*err).expect("the resolver fails with a GuardError");
            Err(match found {
                GuardError::Blocked { host, ip, reason } => GuardError::Blocked {
                    host: host.clone(),
                    ip: *ip,
                    reason: *reason,
                },
                other => panic!("unexpected error {other}"),
            })
        }
    }
}

#[tokio::test]
async fn resolver_refuses_localhost_by_default() {
    let err = resolve_localhost(Policy::default()).await.unwrap_err();
    assert_eq!(err.reason(), Some(Loopback), "{err}");
}

#[tokio::test]
async fn resolver_allows_localhost_when_told() {
    let open = Policy {
        allow_private: true,
        allow: vec![],
    };
    for policy in [open, allowing(&["localhost"]), allowing(&["LocalHost."])] {
        let addrs = resolve_localhost(policy).await.unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}

/// A resolver that refuses every name, so the client below never connects anywhere.
struct RefuseAll;

impl Resolve for RefuseAll {
    fn resolve(&self, name: Name) -> Resolving {
        let err = GuardError::Blocked {
            host: name.as_str().to_owned(),
            ip: ip("127.0.0.1"),
            reason: Loopback,
        };
        Box::pin(async move { Err(err.into()) })
    }
}

#[tokio::test]
async fn find_in_sees_through_reqwest_errors() {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .dns_resolver(RefuseAll)
        .build()
        .unwrap();
    let err = client.get("http://blocked.test/").send().await.unwrap_err();
    let found = find_in(&err).expect("GuardError in the source chain");
    assert_eq!(found.reason(), Some(Loopback));
    assert!(find_in(&io::Error::other("unrelated")).is_none());
}
