//! Tests of the policy and its enforcement: parsing exceptions, checking addresses and URLs,
//! filtering resolved addresses, the resolver itself, and finding a `GuardError` in an error chain.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Name, Resolve, Resolving};

use super::super::{Allow, Blocked, GuardError, GuardedResolver, Policy, find_in, keep_allowed};
use super::classify::CASES;
use super::ip;

use Blocked::*;

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

#[tokio::test]
async fn a_lookup_holds_its_permit_until_the_system_resolver_returns() {
    let lookups = Arc::new(tokio::sync::Semaphore::new(1));
    let found = super::super::lookup(Arc::clone(&lookups), "localhost")
        .await
        .expect("localhost resolves from /etc/hosts");
    assert!(!found.is_empty());
    assert!(found.iter().all(|a| a.ip().is_loopback()), "{found:?}");
    assert_eq!(lookups.available_permits(), 1, "the permit is back");
    // With no permit free, a lookup waits instead of taking another blocking thread.
    let held = Arc::clone(&lookups).acquire_owned().await.unwrap();
    let waiting = super::super::lookup(Arc::clone(&lookups), "localhost");
    tokio::pin!(waiting);
    assert!(futures_util::poll!(waiting.as_mut()).is_pending());
    drop(held);
    assert!(waiting.await.is_ok());
}
