//! The `word_count` kernel alone, without the store or HTTP: the 200 MB corpus of the
//! benchmarks (10,000 pages of 20 KB from `examples/support/corpus.rs`, as `bench/fetch.sh`
//! serves them) counted in memory, single-threaded and on a rayon pool, with and without the
//! tally of the top words.
//!
//! ```text
//! cargo run --release -p faena-kernels --example word_count_kernel -- --threads 2 --runs 3
//! ```
//!
//! Each line gives the wall time and the CPU time of the process (all threads): on a shared
//! machine the second says how much work was done, whoever else ran meanwhile.

use std::time::{Duration, Instant};

use clap::Parser;
use faena_kernels::Ctl;
use faena_kernels::word_count::{Accumulator, Tally, count, count_and_tally};

#[path = "../../../examples/support/corpus.rs"]
mod corpus;

#[derive(Parser)]
struct Args {
    /// Pages in the corpus.
    #[arg(long, default_value_t = 10_000)]
    pages: u64,
    /// Bytes per page.
    #[arg(long, default_value_t = 20_000)]
    bytes: usize,
    /// Threads of the pool.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Runs of each measurement.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Bytes per batch handed to the pool, as the job reads them from the store.
    #[arg(long, default_value_t = 8 << 20)]
    batch: usize,
}

fn main() {
    let args = Args::parse();
    let pages: Vec<String> = (0..args.pages)
        .map(|i| corpus::page(i, args.bytes))
        .collect();
    let total: usize = pages.iter().map(String::len).sum();
    let texts: Vec<&[u8]> = pages.iter().map(|p| p.as_bytes()).collect();
    let want: u64 = pages
        .iter()
        .map(|p| p.split_whitespace().count() as u64)
        .sum();
    println!("{} pages, {total} bytes, {want} words", pages.len());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .expect("a rayon pool");
    for run in 1..=args.runs {
        let clock = Clock::start();
        let words: u64 = texts.iter().map(|t| count(t).words).sum();
        assert_eq!(words, want);
        println!("run {run} count, 1 thread:         {}", clock.report(total));
        let clock = Clock::start();
        let mut tally = Tally::new();
        let words: u64 = (texts.iter())
            .map(|t| count_and_tally(t, &mut tally).words)
            .sum();
        let top = tally.top(10);
        assert_eq!(words, want);
        println!("run {run} count+tally, 1 thread:   {}", clock.report(total));
        assert_eq!(top[0].0, "the");
        for top in [0, 10] {
            let clock = Clock::start();
            let out = pool.install(|| batches(&texts, args.batch, top));
            assert_eq!(out.total_words, want);
            let threads = args.threads;
            println!(
                "run {run} top={top:<2} {threads} threads, batches: {}",
                clock.report(total)
            );
        }
    }
}

/// A clock that reads wall time and the CPU time of the process.
struct Clock {
    wall: Instant,
    cpu: Duration,
}

impl Clock {
    fn start() -> Self {
        Self {
            wall: Instant::now(),
            cpu: cpu_time(),
        }
    }

    /// "wall s (cpu s)  MB/s by wall".
    fn report(&self, bytes: usize) -> String {
        let wall = self.wall.elapsed().as_secs_f64();
        let cpu = (cpu_time() - self.cpu).as_secs_f64();
        let mb_s = bytes as f64 / wall / 1e6;
        format!("{wall:.3} s (cpu {cpu:.3} s)  {mb_s:6.0} MB/s")
    }
}

/// CPU time used by this process so far, all threads.
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill in.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Counts `texts` as the job does: an [`Accumulator`] fed batches of about `batch` bytes.
fn batches(texts: &[&[u8]], batch: usize, top: usize) -> faena_kernels::word_count::WordCounts {
    let ctl = Ctl::default();
    let mut acc = Accumulator::new(top);
    let mut start = 0;
    while start < texts.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < texts.len() && bytes < batch {
            bytes += texts[end].len();
            end += 1;
        }
        let names = (start..end).map(|i| format!("page-{i}")).collect();
        acc.add(names, &texts[start..end], &ctl)
            .expect("not stopped");
        start = end;
    }
    acc.finish()
}
