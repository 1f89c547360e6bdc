//! What `faena bench` measured, and its report: rates and nearest-rank percentiles.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

/// Latencies measured by one client (or all of them, merged).
#[derive(Default)]
pub(super) struct Samples {
    /// Per request of `POST /jobs` (or `/jobs/batch`).
    pub submit: Vec<Duration>,
    /// From the submission to the job's final state, seen by the client.
    pub done: Vec<Duration>,
    /// From the job's creation to the start of its run, as the server recorded them.
    pub pickup: Vec<Duration>,
    /// From the start of the job's run to its end, as the server recorded them.
    pub run: Vec<Duration>,
    /// Per `GET /jobs/{id}` of the read phase.
    pub read: Vec<Duration>,
    /// Jobs submitted (one per submit sample, or a batch's worth).
    pub jobs: u64,
    pub not_succeeded: u64,
}

impl Samples {
    pub(super) fn merge(&mut self, other: Samples) {
        self.submit.extend(other.submit);
        self.done.extend(other.done);
        self.pickup.extend(other.pickup);
        self.run.extend(other.run);
        self.read.extend(other.read);
        self.jobs += other.jobs;
        self.not_succeeded += other.not_succeeded;
    }
}

/// The nearest-rank percentile `p` of `sorted`, in ms.
pub(super) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

/// What the report's first line says was run.
pub(super) struct Run<'a> {
    pub kind: &'a str,
    pub what: &'a str,
    pub clients: u64,
    pub servers: usize,
    pub elapsed: Duration,
}

/// Prints the report of a run (and of its read phase, `reads` taking `read_elapsed`).
pub(super) fn print(run: &Run, all: &mut Samples, read_elapsed: Option<Duration>) {
    for s in [
        &mut all.submit,
        &mut all.done,
        &mut all.pickup,
        &mut all.run,
        &mut all.read,
    ] {
        s.sort();
    }
    let mut report = format!(
        "faena bench: {} {} jobs {}, {} clients, {} server(s), {:.3} s, {:.0} jobs/s, \
         {} not succeeded\n",
        all.jobs,
        run.kind,
        run.what,
        run.clients,
        run.servers,
        run.elapsed.as_secs_f64(),
        all.jobs as f64 / run.elapsed.as_secs_f64(),
        all.not_succeeded
    );
    for (name, s) in [
        ("submit", &all.submit),
        ("submit-to-done", &all.done),
        ("pickup", &all.pickup),
        ("run", &all.run),
    ] {
        line(&mut report, name, s);
    }
    if let Some(elapsed) = read_elapsed {
        let _ = writeln!(
            report,
            "  reads: {} GET /jobs/{{id}} in {:.3} s, {:.0} reads/s",
            all.read.len(),
            elapsed.as_secs_f64(),
            all.read.len() as f64 / elapsed.as_secs_f64()
        );
        line(&mut report, "read", &all.read);
    }
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(report.as_bytes());
}

fn line(report: &mut String, name: &str, s: &[Duration]) {
    if !s.is_empty() {
        let _ = writeln!(
            report,
            "  {name:<15} p50 {:>8.2} ms  p90 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms",
            percentile(s, 50.0),
            percentile(s, 90.0),
            percentile(s, 99.0),
            percentile(s, 100.0)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&ms, 50.0), 50.0);
        assert_eq!(percentile(&ms, 99.0), 99.0);
        assert_eq!(percentile(&ms, 100.0), 100.0);
        assert_eq!(percentile(&[], 99.0), 0.0);
    }
}
