//! Every setting of `faena serve`: its flag, its environment variable and its default.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::api::ApiOptions;
use crate::api::auth::{ApiKeys, KeyError};
use crate::job::{Backoff, Limits};
use crate::kinds::Builtins;
use crate::kinds::fetch_urls::guard::{Allow, Policy};
use crate::kinds::fetch_urls::{FetchConfig, FetchLimits, Fetcher};
use crate::runtime::RuntimeConfig;
use crate::store::postgres::PgOptions;
use crate::store::sqlite::SqliteOptions;
use crate::store::{Retention, StoreOptions};

/// Where `faena serve` listens by default (and where `faena healthcheck` asks).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Format of the log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// How SQLite syncs commits to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqliteSync {
    /// fsync every commit: an accepted job survives a power cut.
    Full,
    /// fsync at checkpoints: survives a process crash, may lose the last commits on power loss.
    Normal,
}

/// Settings of the server.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "FAENA_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// Database: `sqlite://PATH` (created if missing; one faena process per file) or
    /// `postgres://USER:PASSWORD@HOST/DB` (any number of faena instances share its queue).
    #[arg(
        long,
        env = "FAENA_DATABASE_URL",
        default_value = "sqlite://data/faena.db"
    )]
    pub database_url: String,

    /// Threads of the CPU pool [default: number of cores].
    #[arg(long, env = "FAENA_CPU_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub cpu_threads: Option<u16>,

    /// CPU jobs (count_primes, factorial, word_count) running at once [default: number of cores].
    #[arg(long, env = "FAENA_MAX_CPU_JOBS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub max_cpu_jobs: Option<u16>,

    /// I/O jobs (sleep, fetch_urls) running at once.
    #[arg(long, env = "FAENA_MAX_IO_JOBS", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_io_jobs: u32,

    /// Job kinds this instance accepts and runs, comma-separated (e.g. `sleep,factorial`); a
    /// submission of another kind is refused with `kind_disabled`, and queued jobs of other
    /// kinds are left to instances that run them [default: every kind].
    #[arg(long, env = "FAENA_KINDS", value_delimiter = ',')]
    pub kinds: Vec<String>,

    /// Kinds run by remote workers, comma-separated (`[a-z][a-z0-9_]{0,63}`, not a built-in
    /// name): submitted like any kind (parameters: a JSON object), claimed over
    /// `POST /workers/claim`.
    #[arg(long, env = "FAENA_WORKER_KINDS", value_delimiter = ',')]
    pub worker_kinds: Vec<String>,

    /// A JSON Schema file for a worker kind's parameters, `KIND=PATH` (repeat the flag; in the
    /// variable, comma-separated): submissions are checked against it (422 `invalid_params`
    /// naming the field), `GET /kinds` and the dashboard's form show it.
    #[arg(long = "worker-kind-schema", env = "FAENA_WORKER_KIND_SCHEMAS", value_delimiter = ',', value_parser = parse_kind_schema)]
    pub worker_kind_schemas: Vec<(String, std::path::PathBuf)>,

    /// Most jobs of a kind running at once across all instances, `KIND=N` (comma-separated,
    /// e.g. `count_primes=1,fetch_urls=10`): the others wait queued and start, in their
    /// order, as running ones end.
    #[arg(long, env = "FAENA_KIND_CONCURRENCY", value_delimiter = ',', value_parser = parse_kind_count)]
    pub kind_concurrency: Vec<(String, u32)>,

    /// Lease of a job a remote worker claimed: when no heartbeat renews it for this long, the
    /// job is `interrupted` and retried like a crashed run.
    #[arg(long, env = "FAENA_WORKER_LEASE_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1_000..=3_600_000))]
    pub worker_lease_ms: u64,

    /// Deadline of a run when a job gives no `timeout_ms`.
    #[arg(long, env = "FAENA_DEFAULT_TIMEOUT_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub default_timeout_ms: u64,

    /// Priority of a job that gives none (-100..=100).
    #[arg(long, env = "FAENA_DEFAULT_PRIORITY", default_value_t = 0, allow_hyphen_values = true, value_parser = clap::value_parser!(i32).range(-100..=100))]
    pub default_priority: i32,

    /// Attempts of a job that gives no `max_attempts` (1..=25).
    #[arg(long, env = "FAENA_DEFAULT_MAX_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=25))]
    pub default_max_attempts: u32,

    /// Largest n accepted by `factorial`.
    #[arg(long, env = "FAENA_MAX_FACTORIAL_N", default_value_t = crate::kinds::factorial::DEFAULT_MAX_N, value_parser = clap::value_parser!(u64).range(0..=100_000_000))]
    pub max_factorial_n: u64,

    /// Largest request body in bytes (more: 413).
    #[arg(long, env = "FAENA_MAX_BODY_BYTES", default_value_t = 1 << 20, value_parser = clap::value_parser!(u64).range(1..=(1 << 30)))]
    pub max_body_bytes: u64,

    /// Most jobs queued (waiting ones included, all instances) before submissions get 429;
    /// 0 for no cap. Counted every second, so it may be passed by a second's submissions.
    #[arg(long, env = "FAENA_MAX_QUEUED_JOBS", default_value_t = 100_000)]
    pub max_queued_jobs: u64,

    /// Most jobs one tenant (API key) may have queued (waiting ones included, all
    /// instances) before its submissions get 429 `queue_full`; 0 for no cap. Counted every
    /// second, like --max-queued-jobs.
    #[arg(long, env = "FAENA_TENANT_MAX_QUEUED", default_value_t = 0)]
    pub tenant_max_queued: u64,

    /// Jobs one tenant may submit on this instance, as N/DURATION (`100/1s`, `6000/1m`,
    /// `50/500ms`): N per window steadily, after a burst of up to N; past it 429
    /// `rate_limited` with Retry-After.
    #[arg(long, env = "FAENA_TENANT_RATE", value_parser = clap::value_parser!(crate::runtime::Rate))]
    pub tenant_rate: Option<crate::runtime::Rate>,

    /// Event streams one tenant may have open on this instance (past it: 429
    /// `too_many_streams`); 0 for no cap.
    #[arg(long, env = "FAENA_TENANT_MAX_STREAMS", default_value_t = 0)]
    pub tenant_max_streams: usize,

    /// Requests in progress at once (health checks aside); more get 503 `overloaded` at once.
    #[arg(long, env = "FAENA_MAX_CONCURRENT_REQUESTS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_concurrent_requests: u32,

    /// Deadline of a request, on top of its `wait_ms` (past it: 503 `timeout`).
    #[arg(long, env = "FAENA_REQUEST_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub request_timeout_ms: u64,

    /// API keys, comma-separated (16 to 512 printable ASCII characters each). With keys,
    /// every route but /healthz and /readyz needs `Authorization: Bearer <key>`, and each
    /// job is visible only to the key that created it.
    #[arg(
        long,
        env = "FAENA_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_keys: Vec<String>,

    /// Worker API keys, comma-separated: they reach only the workers' routes (claim jobs of
    /// worker kinds, of every tenant, and answer for them).
    #[arg(
        long,
        env = "FAENA_WORKER_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub worker_api_keys: Vec<String>,

    /// A file of API keys, one per line: the key, or its SHA-256 as 64 hex digits, then
    /// optionally its role: `submit` (the default) or `worker`.
    #[arg(long, env = "FAENA_API_KEYS_FILE")]
    pub api_keys_file: Option<String>,

    /// Wait before the first retry of a job that failed with a retryable error; doubles at
    /// each attempt (with jitter: half of it to all of it).
    #[arg(long, env = "FAENA_RETRY_BACKOFF_MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub retry_backoff_ms: u64,

    /// Longest wait between two attempts.
    #[arg(long, env = "FAENA_RETRY_BACKOFF_MAX_MS", default_value_t = 300_000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub retry_backoff_max_ms: u64,

    /// Seconds a succeeded or cancelled job (and its saved pages) is kept after it ended;
    /// 0 keeps them forever.
    #[arg(long, env = "FAENA_RETAIN_SUCCEEDED_SECS", default_value_t = 86_400)]
    pub retain_succeeded_secs: u64,

    /// Seconds a failed or timed-out job is kept after it ended; 0 keeps them forever.
    #[arg(long, env = "FAENA_RETAIN_FAILED_SECS", default_value_t = 604_800)]
    pub retain_failed_secs: u64,

    /// Events kept for event streams that reconnect (`Last-Event-ID`); a client further
    /// behind is told to reload.
    #[arg(long, env = "FAENA_EVENT_BUFFER", default_value_t = crate::events::DEFAULT_CAPACITY, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(16..=10_000_000))]
    pub event_buffer: usize,

    /// Most event streams (`GET /events`, `GET /jobs/{id}/events`) open at once; more get
    /// 503 `overloaded`.
    #[arg(long, env = "FAENA_MAX_EVENT_STREAMS", default_value_t = crate::events::DEFAULT_MAX_STREAMS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub max_event_streams: usize,

    /// How often expired jobs are pruned.
    #[arg(long, env = "FAENA_PRUNE_INTERVAL_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(10..=86_400_000))]
    pub prune_interval_ms: u64,

    /// Lease of a running job: when its instance stops renewing it for this long, another
    /// instance takes the job over.
    #[arg(long, env = "FAENA_LEASE_MS", default_value_t = 15_000, value_parser = clap::value_parser!(u64).range(300..=3_600_000))]
    pub lease_ms: u64,

    /// How often a running job's lease is renewed, and how often expired leases are looked
    /// for; at most a third of the lease [default: a third of the lease, at most 5 s].
    #[arg(long, env = "FAENA_HEARTBEAT_MS", value_parser = clap::value_parser!(u64).range(100..=1_200_000))]
    pub heartbeat_ms: Option<u64>,

    /// How often an idle dispatcher looks at the queue.
    #[arg(long, env = "FAENA_POLL_INTERVAL_MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub poll_interval_ms: u64,

    /// A connection whose client takes none of the data sent to it for this long is closed
    /// (TCP_USER_TIMEOUT): an event stream nobody reads does not stay open. 0: the system's.
    #[arg(long, env = "FAENA_SEND_TIMEOUT_MS", default_value_t = 30_000)]
    pub send_timeout_ms: u64,

    /// A connection that has not sent a whole request header this long after it opened, or
    /// after its previous response (idle, kept alive), is closed.
    #[arg(long, env = "FAENA_HEADER_READ_TIMEOUT_MS", default_value_t = 15_000, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub header_read_timeout_ms: u64,

    /// Connections open at once; past it a new one is closed as soon as it is accepted.
    #[arg(long, env = "FAENA_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Connections open at once from one client address (behind a proxy: its address).
    #[arg(long, env = "FAENA_MAX_CONNECTIONS_PER_IP", default_value_t = 2_048, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_ip: u32,

    /// Time given to running jobs to stop at shutdown.
    #[arg(long, env = "FAENA_SHUTDOWN_GRACE_MS", default_value_t = 8_000)]
    pub shutdown_grace_ms: u64,

    /// PostgreSQL connections of this instance.
    #[arg(long, env = "FAENA_PG_MAX_CONNECTIONS", default_value_t = 16, value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub pg_max_connections: u32,

    /// SQLite durability.
    #[arg(long, env = "FAENA_SQLITE_SYNCHRONOUS", value_enum, default_value_t = SqliteSync::Full)]
    pub sqlite_synchronous: SqliteSync,

    /// Log format.
    #[arg(long, env = "FAENA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Let `fetch_urls` connect to loopback, private, link-local and other internal
    /// addresses (refused by default: server-side request forgery).
    #[arg(long, env = "FAENA_FETCH_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub fetch_allow_private: bool,

    /// CIDRs (`10.1.0.0/16`) and host names (`intranet.example`, `*.corp.example`) that
    /// `fetch_urls` may reach even though they are internal; comma-separated.
    #[arg(long, env = "FAENA_FETCH_ALLOW", value_delimiter = ',', value_parser = parse_allow)]
    pub fetch_allow: Vec<Allow>,

    /// Largest page `fetch_urls` keeps, in bytes (larger ones fail with `too_large`).
    #[arg(long, env = "FAENA_FETCH_MAX_PAGE_BYTES", default_value_t = 10 << 20, value_parser = clap::value_parser!(u64).range(1..=(1 << 30)))]
    pub fetch_max_page_bytes: u64,

    /// Requests in flight across all `fetch_urls` jobs.
    #[arg(long, env = "FAENA_FETCH_MAX_IN_FLIGHT", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub fetch_max_in_flight: u32,

    /// Most URLs in one `fetch_urls` job.
    #[arg(long, env = "FAENA_MAX_FETCH_URLS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_fetch_urls: u32,

    /// Largest `concurrency` of one `fetch_urls` job.
    #[arg(long, env = "FAENA_MAX_FETCH_CONCURRENCY", default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_fetch_concurrency: u32,

    /// Name of this instance in the jobs it runs; on PostgreSQL a restarted instance takes
    /// back at once the runs its previous life left under this name, so it must be unique
    /// among live instances [default: HOSTNAME-PID-XXXX, XXXX random].
    #[arg(long, env = "FAENA_INSTANCE_ID")]
    pub instance_id: Option<String>,
}

fn parse_kind_schema(s: &str) -> Result<(String, std::path::PathBuf), String> {
    match s.trim().split_once('=') {
        Some((kind, path)) if !kind.trim().is_empty() && !path.trim().is_empty() => {
            Ok((kind.trim().to_string(), path.trim().into()))
        }
        _ => Err(format!(
            "`{s}` is not KIND=PATH (e.g. resize=schemas/resize.json)"
        )),
    }
}

fn parse_kind_count(s: &str) -> Result<(String, u32), String> {
    let bad = || format!("`{s}` is not KIND=N with N from 1 (e.g. count_primes=1)");
    let (kind, n) = s.trim().split_once('=').ok_or_else(bad)?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    if kind.trim().is_empty() || n == 0 {
        return Err(bad());
    }
    Ok((kind.trim().to_string(), n))
}

fn parse_allow(s: &str) -> Result<Allow, String> {
    Policy::parse_allow(s.trim())
}

/// `HOSTNAME-PID-XXXX` (4 random hex digits): distinct even for containers that share a host
/// name and run as PID 1. New at every start, so a restarted instance leaves its previous
/// life's runs to the lease rescue; give a stable `--instance-id` to take them back at once.
fn default_instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "faena".into());
    let random = *uuid::Uuid::now_v7().as_bytes();
    let pid = std::process::id();
    format!("{host}-{pid}-{:02x}{:02x}", random[14], random[15])
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Config {
    /// The defaults (and any `FAENA_*` variables set), listening on a free port.
    pub fn with_defaults(database_url: impl Into<String>) -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            config: Config,
        }
        let mut config = Wrap::parse_from(["faena", "--listen", "127.0.0.1:0"]).config;
        config.database_url = database_url.into();
        config
    }

    pub fn cpu_threads(&self) -> usize {
        self.cpu_threads.map_or_else(cores, usize::from)
    }

    pub fn limits(&self) -> Limits {
        Limits {
            default_timeout_ms: self.default_timeout_ms,
            default_priority: self.default_priority,
            default_max_attempts: self.default_max_attempts,
            ..Limits::default()
        }
    }

    /// The built-in kinds with the bounds set here, fetching with the client set here.
    pub fn builtins(&self) -> Result<Builtins, crate::kinds::fetch_urls::client::ClientError> {
        let mut kinds = Builtins::new(Fetcher::new(&self.fetch())?);
        kinds.factorial.max_n = self.max_factorial_n;
        kinds.fetch_urls.limits = FetchLimits {
            max_urls: self.max_fetch_urls as usize,
            max_concurrency: self.max_fetch_concurrency,
        };
        Ok(kinds)
    }

    /// The HTTP limits and the API keys (read from their file).
    pub fn api(&self) -> Result<ApiOptions, KeyError> {
        Ok(ApiOptions {
            max_body_bytes: usize::try_from(self.max_body_bytes).unwrap_or(usize::MAX),
            max_in_flight: self.max_concurrent_requests as usize,
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            keys: ApiKeys::new(
                &self.api_keys,
                &self.worker_api_keys,
                self.api_keys_file.as_deref(),
            )?,
        })
    }

    pub fn runtime(&self) -> RuntimeConfig {
        RuntimeConfig {
            instance_id: self.instance_id.clone().unwrap_or_else(default_instance_id),
            max_cpu_jobs: self.max_cpu_jobs.map_or_else(cores, usize::from),
            max_io_jobs: self.max_io_jobs as usize,
            lease: Duration::from_millis(self.lease_ms),
            heartbeat: Duration::from_millis(self.heartbeat_ms()),
            worker_lease: Duration::from_millis(self.worker_lease_ms),
            poll_interval: Duration::from_millis(self.poll_interval_ms),
            max_queued: self.max_queued_jobs,
            count_queued_every: (self.max_queued_jobs > 0).then_some(Duration::from_secs(1)),
            retention: Retention {
                succeeded: (self.retain_succeeded_secs > 0)
                    .then(|| Duration::from_secs(self.retain_succeeded_secs)),
                failed: (self.retain_failed_secs > 0)
                    .then(|| Duration::from_secs(self.retain_failed_secs)),
                ..Retention::default()
            },
            prune_every: Duration::from_millis(self.prune_interval_ms),
            event_buffer: self.event_buffer,
            max_event_streams: self.max_event_streams,
            // Resolved against the kinds once they are known (`app`).
            kind_concurrency: Default::default(),
            tenants: crate::runtime::TenantLimits {
                max_queued: self.tenant_max_queued,
                rate: self.tenant_rate,
                max_streams: self.tenant_max_streams,
            },
        }
    }

    pub fn fetch(&self) -> FetchConfig {
        FetchConfig {
            policy: Policy {
                allow_private: self.fetch_allow_private,
                allow: self.fetch_allow.clone(),
            },
            max_page_bytes: self.fetch_max_page_bytes,
            max_in_flight: self.fetch_max_in_flight as usize,
            ..FetchConfig::default()
        }
    }

    /// The heartbeat period: as given, but never more than a third of the lease.
    pub fn heartbeat_ms(&self) -> u64 {
        let third = (self.lease_ms / 3).max(1);
        self.heartbeat_ms.unwrap_or(third.min(5_000)).min(third)
    }

    pub fn backoff(&self) -> Backoff {
        Backoff {
            base: Duration::from_millis(self.retry_backoff_ms),
            max: Duration::from_millis(self.retry_backoff_max_ms.max(self.retry_backoff_ms)),
        }
    }

    pub fn store(&self) -> StoreOptions {
        StoreOptions {
            backoff: self.backoff(),
            sqlite: SqliteOptions {
                synchronous_full: self.sqlite_synchronous == SqliteSync::Full,
                ..SqliteOptions::default()
            },
            postgres: PgOptions {
                max_connections: self.pg_max_connections,
                ..PgOptions::default()
            },
        }
    }
}
