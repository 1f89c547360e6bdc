//! Counts the primes in `[START, END)` with the `count_primes` kernel in this process, the way
//! the job kind picks or a given one, on a pool of THREADS threads, and prints the count, the
//! way and the seconds it took: for `bench/primes.sh`, which sets the two ways side by side.
//!
//! ```text
//! cargo run --release -p faena-kernels --example primes -- START END [auto|sieve|analytic] [THREADS]
//! ```
//!
//! Numbers may be written `1e10`.

use std::process::ExitCode;
use std::time::Instant;

use faena_kernels::Ctl;
use faena_kernels::count_primes::{MAX_END, Method, SIEVE_MAX_END};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| {
        let text = args.get(i)?;
        let n: u64 = text.parse().ok().or_else(|| {
            let f: f64 = text.parse().ok()?;
            (f.fract() == 0.0 && f >= 0.0 && f < 2f64.powi(64)).then_some(f as u64)
        })?;
        Some(n)
    };
    let (Some(start), Some(end)) = (number(0), number(1)) else {
        eprintln!("usage: primes START END [auto|sieve|analytic] [THREADS]");
        return ExitCode::from(2);
    };
    if start >= end || end > MAX_END {
        eprintln!("need 0 <= START < END <= {MAX_END}");
        return ExitCode::from(2);
    }
    let method = match args.get(2).map(String::as_str) {
        None | Some("auto") => Method::for_range(start, end),
        Some("sieve") => Method::Sieve,
        Some("analytic") => Method::Analytic,
        Some(other) => {
            eprintln!("unknown way {other:?}: auto, sieve or analytic");
            return ExitCode::from(2);
        }
    };
    if method == Method::Sieve && end > SIEVE_MAX_END {
        eprintln!("the sieve goes up to {SIEVE_MAX_END}");
        return ExitCode::from(2);
    }
    let threads = number(3).unwrap_or(2) as usize;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    let started = Instant::now();
    let count = pool
        .install(|| method.count(start, end, &Ctl::default()))
        .expect("nothing cancels it");
    let secs = started.elapsed().as_secs_f64();
    println!("{count} {method:?} {secs:.3}");
    ExitCode::SUCCESS
}
