//! The usual `process_*` metrics of a Prometheus client (resident memory, CPU time, open
//! files, threads, start time), read from `/proc/self` at scrape time. Linux only; elsewhere
//! they are left out.

use ::metrics::gauge;

/// Reads `/proc/self` and sets the gauges; does nothing where it cannot be read.
pub fn observe() {
    let Some(p) = read() else { return };
    gauge!("process_resident_memory_bytes").set(p.resident_bytes as f64);
    gauge!("process_virtual_memory_bytes").set(p.virtual_bytes as f64);
    gauge!("process_cpu_seconds_total").set(p.cpu_seconds);
    gauge!("process_threads").set(p.threads as f64);
    gauge!("process_start_time_seconds").set(p.start_time_seconds);
    if let Some(fds) = p.open_fds {
        gauge!("process_open_fds").set(fds as f64);
    }
    if let Some(max) = p.max_fds {
        gauge!("process_max_fds").set(max as f64);
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Process {
    resident_bytes: u64,
    virtual_bytes: u64,
    cpu_seconds: f64,
    threads: u64,
    start_time_seconds: f64,
    open_fds: Option<u64>,
    max_fds: Option<u64>,
}

fn read() -> Option<Process> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let boot = std::fs::read_to_string("/proc/stat").ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let mut p = parse_stat(&stat, &boot, ticks.max(1) as f64, page.max(1) as u64)?;
    p.open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as u64);
    p.max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| max_open_files(&l));
    Some(p)
}

/// `/proc/self/stat` (fields after the parenthesised command name, which may hold spaces)
/// and the boot time from `/proc/stat`.
fn parse_stat(stat: &str, proc_stat: &str, ticks: f64, page: u64) -> Option<Process> {
    // Field 3 (state) is the first after ") "; fields are 1-based in proc(5).
    let rest = stat.rsplit_once(") ")?.1;
    let field = |n: usize| rest.split_whitespace().nth(n - 3);
    let num = |n: usize| field(n)?.parse::<u64>().ok();
    let boot: u64 = proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(Process {
        cpu_seconds: (num(14)? + num(15)?) as f64 / ticks,
        threads: num(20)?,
        start_time_seconds: boot as f64 + num(22)? as f64 / ticks,
        virtual_bytes: num(23)?,
        resident_bytes: num(24)? * page,
        open_fds: None,
        max_fds: None,
    })
}

/// The soft limit of `Max open files` in `/proc/self/limits`.
fn max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_a_command_name_holding_spaces_and_parens() {
        // proc(5) fields 1..=24 (pid, comm, state, ppid, ..., utime=14, stime=15, ...,
        // num_threads=20, itrealvalue=21, starttime=22, vsize=23, rss=24).
        let stat = "4242 (faena (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 \
                    7 0 12345 987654 321 18446744073709551615";
        let p = parse_stat(stat, "cpu 1 2 3\nbtime 1700000000\n", 100.0, 4096).unwrap();
        assert_eq!(p.cpu_seconds, 3.0);
        assert_eq!(p.threads, 7);
        assert_eq!(p.start_time_seconds, 1_700_000_123.45);
        assert_eq!(p.virtual_bytes, 987_654);
        assert_eq!(p.resident_bytes, 321 * 4096);
    }

    #[test]
    fn reads_the_soft_open_files_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max processes             95043                95043                processes\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024));
    }

    #[test]
    fn reads_this_process() {
        let p = read().expect("/proc/self on Linux");
        assert!(p.resident_bytes > 0 && p.threads >= 1 && p.open_fds.unwrap() > 0);
        assert!(p.max_fds.unwrap() >= p.open_fds.unwrap());
    }
}
