//! Tests of `factorial_facts` over both routes: known values (../shared/ground-truth.md), the
//! naive product, the exact route against the fast one, and cancellation.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use rug::Integer;

use super::*;

/// The largest n the service accepts by default.
const BIG_N: u64 = 10_000_000;

/// The facts read off the full decimal expansion of `n!`.
fn from_decimal(n: u64, s: &str) -> FactorialFacts {
    FactorialFacts {
        n,
        digits: len(s),
        trailing_zeros: len(s) - len(s.trim_end_matches('0')),
        leading_digits: s[..s.len().min(20)].to_owned(),
    }
}

/// The obvious way: multiply out `n!`, print it, read it.
fn naive(n: u64) -> FactorialFacts {
    let mut f = Integer::from(1);
    for i in 2..=n {
        f *= i;
    }
    from_decimal(n, &f.to_string())
}

fn check(n: u64, digits: u64, trailing_zeros: u64, leading: Option<&str>) {
    let f = factorial_facts(n, &Ctl::default()).expect("not cancelled");
    assert_eq!(
        (f.n, f.digits, f.trailing_zeros),
        (n, digits, trailing_zeros)
    );
    assert_eq!(f.leading_digits.len() as u64, digits.min(20));
    if let Some(leading) = leading {
        assert_eq!(f.leading_digits, leading);
    }
}

#[test]
fn known_values() {
    check(0, 1, 0, Some("1"));
    check(1, 1, 0, Some("1"));
    check(5, 3, 1, Some("120"));
    check(10, 7, 2, Some("3628800"));
    check(100, 158, 24, Some("93326215443944152681"));
    check(50_000, 213_237, 12_499, None);
    check(60_000, 260_635, 14_998, None);
    check(70_000, 308_760, 17_498, None);
    check(80_000, 357_507, 19_999, Some("30977222516622492863"));
    check(100_000, 456_574, 24_999, None);
    check(1_000_000, 5_565_709, 249_998, Some("82639316883312400623"));
    check(10_000_000, 65_657_060, 2_499_999, None);
}

#[test]
#[ignore = "about 3 s at opt-level 3 with 2 cores"]
fn ten_million_by_the_exact_route() {
    let exact = exact::by_division(10_000_000, &Ctl::default()).expect("not cancelled");
    assert_eq!(exact, factorial_facts(10_000_000, &Ctl::default()).unwrap());
    assert_eq!(
        (exact.digits, exact.trailing_zeros),
        (65_657_060, 2_499_999)
    );
}

#[test]
fn exact_routes_match_naive_up_to_2000() {
    let ctl = Ctl::default();
    let mut f = Integer::from(1);
    for n in 0..=2000u64 {
        if n > 1 {
            f *= n;
        }
        let want = from_decimal(n, &f.to_string());
        assert_eq!(exact::direct(n, &ctl), Ok(want.clone()), "direct, n = {n}");
        assert_eq!(exact::by_division(n, &ctl), Ok(want), "division, n = {n}");
    }
}

#[test]
fn bounds_settle_and_match_naive_from_2_to_3000() {
    let ctl = Ctl::default();
    let mut f = Integer::from(1);
    for n in 2..=3000u64 {
        f *= n;
        let got = bounds::facts_from_bounds(n, &ctl).expect("not cancelled");
        let want = from_decimal(n, &f.to_string());
        // Past 40 digits, the bounds always settle on this range.
        if want.digits > LEADING + 20 {
            assert_eq!(got, Some(want), "n = {n}");
        } else if let Some(got) = got {
            assert_eq!(got, want, "n = {n}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn random_n_matches_naive(n in 0u64..=20_000) {
        prop_assert_eq!(factorial_facts(n, &Ctl::default()), Ok(naive(n)));
    }

    #[test]
    fn bounds_match_the_exact_route(n in 5_000u64..=300_000) {
        let ctl = Ctl::default();
        let exact = exact::by_division(n, &ctl).expect("not cancelled");
        prop_assert_eq!(bounds::facts_from_bounds(n, &ctl), Ok(Some(exact)));
    }
}

#[test]
fn cancelled_before_start_stops_at_once() {
    let ctl = Ctl::default();
    ctl.stop();
    let start = Instant::now();
    assert_eq!(factorial_facts(BIG_N, &ctl), Err(Stopped));
    assert_eq!(factorial_facts(3, &ctl), Err(Stopped));
    assert!(start.elapsed() < Duration::from_millis(50));
}

/// The exact route, the fallback of the bounds and the only one that runs long enough to be
/// cancelled midway.
#[test]
fn exact_route_cancelled_mid_run_stops_within_a_second() {
    let ctl = Ctl::default();
    let token = ctl.clone();
    let worker = std::thread::spawn(move || {
        let result = exact::by_division(BIG_N, &ctl);
        (result, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(100));
    let cancelled_at = Instant::now();
    token.stop();
    let (result, stopped_at) = worker.join().expect("worker panicked");
    assert_eq!(result, Err(Stopped));
    let latency = stopped_at.duration_since(cancelled_at);
    assert!(latency < Duration::from_secs(1), "took {latency:?} to stop");
}
