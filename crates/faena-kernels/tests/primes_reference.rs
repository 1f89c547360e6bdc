//! `count_primes` against the reference tools, on many ranges: `primesieve START STOP -c -q`
//! (the primes in `[START, STOP]`) for narrow windows, `primecount X` (π(X)) for wide ranges.
//! Both ways of counting are covered: the ranges are edges (start 0, 1, 2; ends at and around
//! powers of ten and squares of primes, the top of the sieve), seeded random narrow windows from
//! 10^3 to 10^15 (sieved), windows of several segments high up (the sieve forced: its bucket
//! path) and seeded random wide ranges up to 10^11 (counted analytically), each
//! counted the way the job kind picks, and the edges both ways where that is cheap. A few
//! seconds in all, the tools included.
//!
//! The tools are Debian's `primesieve-bin` and `primecount-bin` (`.ci/run` installs them).
//! Without them the test prints that it skipped and passes, unless
//! `FAENA_TEST_REQUIRE_PRIMETOOLS=1` (set by `.ci/run`), which makes that a failure.

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use faena_kernels::Ctl;
use faena_kernels::count_primes::Method;

/// The variable that makes missing tools a failure.
const REQUIRE_VAR: &str = "FAENA_TEST_REQUIRE_PRIMETOOLS";

/// The seed of the random ranges, so that a failure can be replayed.
const SEED: u64 = 0x0C0F_FEE5_2026_1126;

/// How many random ranges of each sort.
const NARROW: usize = 60;
const WIDE: usize = 40;

#[test]
fn count_primes_agrees_with_primesieve_and_primecount() {
    if !tools_present("count_primes_agrees_with_primesieve_and_primecount") {
        return;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let started = Instant::now();
    let mut rng = SplitMix(SEED);
    let check = |start: u64, end: u64, method: Method| {
        let ours = pool
            .install(|| method.count(start, end, &Ctl::default()))
            .expect("not cancelled");
        let theirs = reference(start, end);
        assert_eq!(
            ours, theirs,
            "[{start}, {end}) by {method:?}: faena {ours}, reference {theirs} (seed {SEED:#x})"
        );
    };

    let edges = edges();
    for &(start, end) in &edges {
        // The way the job kind picks, and the other too where it is cheap.
        let picked = Method::for_range(start, end);
        check(start, end, picked);
        if end - start <= 10_000_000 && picked != Method::Sieve {
            check(start, end, Method::Sieve);
        }
        if end <= 10_000_000_000 && picked != Method::Analytic {
            check(start, end, Method::Analytic);
        }
    }
    // Windows of several segments sieved where large primes go through buckets, up to the top.
    for (start, end) in [
        (1_000_000_000_000_000, 1_000_000_100_000_000),
        (9_999_999_950_000_000, 10_000_000_000_000_000),
    ] {
        check(start, end, Method::Sieve);
    }
    let mut by_method = [0usize; 2];
    let mut random = |start: u64, end: u64| {
        let method = Method::for_range(start, end);
        check(start, end, method);
        by_method[usize::from(method == Method::Analytic)] += 1;
    };
    for _ in 0..NARROW {
        // end log-uniform in [10^3, 10^15], width log-uniform up to 10^6 (at most end).
        let end = rng.log_uniform(1e3, 1e15);
        let width = rng.log_uniform(1.0, 1e6).min(end);
        random(end - width, end);
    }
    for _ in 0..WIDE {
        // end log-uniform in [10^8, 10^11]; start 0, anywhere in the lower half, or in the
        // top quarter.
        let end = rng.log_uniform(1e8, 1e11);
        let start = match rng.next() % 3 {
            0 => 0,
            1 => rng.next() % (end / 2),
            _ => end - end / 4 - rng.next() % (end / 4),
        };
        random(start, end);
    }

    let [sieved, analytic] = by_method;
    let _ = writeln!(
        std::io::stderr(),
        "{} edges, then {sieved} random ranges sieved and {analytic} counted analytically, \
         in {:?}",
        edges.len(),
        started.elapsed()
    );
    // Each way must have been picked for most random ranges of its sort.
    assert!(sieved >= NARROW / 2, "{sieved} sieved");
    assert!(analytic >= WIDE / 2, "{analytic} analytic");
}

/// Ranges at the edges: the smallest starts and ends, powers of ten and squares of primes
/// (the first numbers a sieving prime crosses off), each exactly and one either side.
fn edges() -> Vec<(u64, u64)> {
    let mut ranges = Vec::new();
    for start in 0..=3 {
        for end in start + 1..=12 {
            ranges.push((start, end));
        }
    }
    let primes = [
        2u64, 3, 5, 7, 11, 13, 31, 97, 65_521, 99_991, 1_000_003, 3_162_277,
    ];
    let squares = primes.iter().map(|p| p * p);
    let powers = (2..=13).map(|k| 10u64.pow(k));
    for n in squares.chain(powers) {
        // From 0, 1 and 2 only up to 10^11 (each a π(n) or two), and [0, 10^12) once above.
        let low: &[u64] = if n <= 100_000_000_000 {
            &[0, 1, 2]
        } else {
            &[]
        };
        for end in [n - 1, n, n + 1] {
            for &start in low.iter().chain(&[end - end.min(1000), end - 1]) {
                if start < end {
                    ranges.push((start, end));
                }
            }
        }
        if n == 1_000_000_000_000 {
            ranges.push((0, n));
        }
    }
    // The top of the sieve, 10^16 (a narrow window there is still sieved).
    let top = 10u64.pow(16);
    ranges.extend([(top - 1000, top), (top - 1, top)]);
    ranges
}

/// The primes in `[start, end)` by the tools: primesieve for narrow windows (it sieves just
/// the window), primecount's π for wide ranges.
fn reference(start: u64, end: u64) -> u64 {
    if end - start <= 100_000_000 {
        tool(
            "primesieve",
            &[&start.to_string(), &(end - 1).to_string(), "-c", "-q"],
        )
    } else {
        let pi = |n: u64| tool("primecount", &[&n.to_string()]);
        pi(end - 1) - if start > 0 { pi(start - 1) } else { 0 }
    }
}

/// Runs `name` with `args` and reads the one number it prints.
fn tool(name: &str, args: &[&str]) -> u64 {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {name}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{name} {args:?}: {out:?}");
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{name} {args:?} printed {text:?}: {e}"))
}

/// Whether both tools run; if not, panics when they are required, else prints that `test`
/// skipped.
fn tools_present(test: &str) -> bool {
    let runs = |name: &str| {
        Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let missing: Vec<_> = ["primesieve", "primecount"]
        .into_iter()
        .filter(|name| !runs(name))
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1") {
        panic!("{test}: {missing:?} not found but {REQUIRE_VAR}=1");
    }
    // Straight to stderr: the test harness would capture (and hide) eprintln!.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {missing:?} not found (apt-get install primesieve-bin primecount-bin)"
    );
    false
}

/// A small seeded generator (SplitMix64): the same ranges on every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number log-uniform in `[lo, hi]`.
    fn log_uniform(&mut self, lo: f64, hi: f64) -> u64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (lo.ln() + u * (hi.ln() - lo.ln())).exp() as u64
    }
}
