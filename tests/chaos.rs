//! Chaos on the real binary: 5,000 submissions from 16 concurrent clients while `faena serve`
//! is SIGKILLed and restarted three times at random moments, on SQLite and on PostgreSQL with
//! two instances (one of them dies at a time). Afterwards every job acknowledged with a 202
//! exists and ends `succeeded` with its exact result, no job has two results, and the SQLite
//! file passes `PRAGMA integrity_check`. Each test prints its figures, and its seed: set
//! `FAENA_CHAOS_SEED` to replay the same jobs and kill points.
//!
//! A submission is one `POST /jobs`, acknowledged only when it got its 202 with the job's id.
//! One that did not (the connection died with the process, or another answer) counts as
//! unacknowledged and is not retried: its client moves on to the next submission, waiting
//! first, when the instance it would use is down, for it (or another) to be up again, so that
//! a restart does not burn the budget on refused connections. An unacknowledged submission
//! may have been stored all the same (the process died between its commit and its answer):
//! such a job must run like any other, and is counted apart.

#[path = "chaos/inspect.rs"]
mod inspect;
#[path = "chaos/jobs.rs"]
mod jobs;
mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use faena_testing::PgScratch;
use serde_json::Value;
use support::Server;
use tokio::sync::watch;

use inspect::{Figures, inspect, integrity_check};
use jobs::{job, mix};

const SUBMISSIONS: usize = 5_000;
const CLIENTS: usize = 16;
const KILLS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_three_sigkills() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("faena.db");
    let url = format!("sqlite://{}", db.display());
    let args = ["--max-cpu-jobs", "2", "--cpu-threads", "2"];
    let mut fleet = Fleet::new(vec![Server::start(&url, &args)]);
    let mut figures = chaos("sqlite", &mut fleet).await;
    // The last life stops cleanly; then the file must be sound.
    let (status, _) = fleet.lives[0].last_mut().unwrap().terminate();
    assert!(status.success(), "exit status {status}");
    figures.integrity = Some(integrity_check(&db).await);
    figures.print_and_check(&fleet);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_instances_survive_three_sigkills() {
    let Some(db) = PgScratch::create("postgres_two_instances_survive_three_sigkills").await else {
        return;
    };
    // Stable ids, so that a restarted instance takes its previous life's runs back at once;
    // a short lease, so that the other instance rescues them soon if the restart is slow.
    let instance = |i: usize| {
        let id = format!("chaos-{i}");
        let args = [
            "--instance-id",
            &id,
            "--lease-ms",
            "2000",
            "--heartbeat-ms",
            "500",
        ];
        Server::start(&db.url, &args)
    };
    let mut fleet = Fleet::new(vec![instance(0), instance(1)]);
    let figures = chaos("postgres", &mut fleet).await;
    figures.print_and_check(&fleet);
}

/// Every life of every instance, in order: the last life of each is the one running.
struct Fleet {
    lives: Vec<Vec<Server>>,
}

impl Fleet {
    fn new(servers: Vec<Server>) -> Self {
        Self {
            lives: servers.into_iter().map(|s| vec![s]).collect(),
        }
    }

    fn addrs(&self) -> Vec<Option<SocketAddr>> {
        self.lives
            .iter()
            .map(|l| l.last().map(|s| s.addr))
            .collect()
    }

    /// SIGKILLs instance `i` and starts its next life on the same database; its new address.
    fn kill_and_restart(&mut self, i: usize) -> SocketAddr {
        let life = self.lives[i].last_mut().expect("a life");
        life.kill();
        let next = life.relaunch();
        let addr = next.addr;
        self.lives[i].push(next);
        addr
    }

    /// What every life of every instance logged, each line prefixed with `[instance.life]`.
    fn logs(&self) -> String {
        let mut logs = String::new();
        for (i, lives) in self.lives.iter().enumerate() {
            for (life, server) in lives.iter().enumerate() {
                for line in server.log().lines() {
                    logs.push_str(&format!("[{i}.{life}] {line}\n"));
                }
            }
        }
        logs
    }
}

/// The storm, then the inspection of what it left.
async fn chaos(name: &'static str, fleet: &mut Fleet) -> Figures {
    let seed = std::env::var("FAENA_CHAOS_SEED").map_or_else(
        |_| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        },
        |s| s.parse().expect("FAENA_CHAOS_SEED is a u64"),
    );
    // Straight to stderr, uncaptured: a run that hangs has shown its seed already.
    let _ = writeln!(std::io::stderr(), "chaos {name}: seed {seed}");
    faena::kinds::fetch_urls::client::install_crypto();
    // A bound on every request, so that a server that hangs fails the test (as submissions
    // timed out, or a panic) instead of stalling it.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let started = Instant::now();
    let storm = storm(seed, fleet, &client).await;
    let mut figures = inspect(&client, fleet, &storm).await;
    figures.name = name;
    figures.seed = seed;
    figures.kill_points = kill_points(seed).to_vec();
    figures.took = started.elapsed();
    figures
}

/// What the clients saw.
#[derive(Default)]
struct Storm {
    acknowledged: Vec<String>,
    /// Unacknowledged submissions by what went wrong.
    failures: BTreeMap<String, usize>,
}

/// The address of each instance, `None` from just before it is killed until its next life
/// listens.
type Addrs = watch::Receiver<Vec<Option<SocketAddr>>>;

/// Submits [`SUBMISSIONS`] jobs from [`CLIENTS`] clients while killing and restarting an
/// instance [`KILLS`] times (alternating over the instances), each time after a random
/// number of acknowledged jobs.
async fn storm(seed: u64, fleet: &mut Fleet, client: &reqwest::Client) -> Storm {
    let (up_tx, up) = watch::channel(fleet.addrs());
    let (acks_tx, mut acks) = watch::channel(0usize);
    // Held by the clients only: when the last one is done, the killer's wait ends too.
    let acks_tx = Arc::new(acks_tx);
    let next = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (next, acks_tx) = (Arc::clone(&next), Arc::clone(&acks_tx));
            tokio::spawn(submit_until_done(
                seed,
                client.clone(),
                next,
                up.clone(),
                acks_tx,
            ))
        })
        .collect();
    drop(acks_tx);
    let killer = async {
        for (k, at) in kill_points(seed).into_iter().enumerate() {
            acks.wait_for(|&a| a >= at).await.unwrap_or_else(|_| {
                panic!("the submissions ended before {at} were acknowledged (kill {k})")
            });
            let i = k % fleet.lives.len();
            up_tx.send_modify(|a| a[i] = None);
            let addr = tokio::task::block_in_place(|| fleet.kill_and_restart(i));
            up_tx.send_modify(|a| a[i] = Some(addr));
        }
    };
    let ((), clients) = tokio::join!(killer, futures_util::future::join_all(clients));
    let mut storm = Storm::default();
    for client in clients {
        let seen = client.expect("a client panicked");
        storm.acknowledged.extend(seen.acknowledged);
        for (why, n) in seen.failures {
            *storm.failures.entry(why).or_default() += n;
        }
    }
    storm
}

/// One client: takes the next submission until all are taken, each to the next instance
/// that is up, and counts every 202 in `acks`.
async fn submit_until_done(
    seed: u64,
    client: reqwest::Client,
    next: Arc<AtomicUsize>,
    mut up: Addrs,
    acks: Arc<watch::Sender<usize>>,
) -> Storm {
    let mut seen = Storm::default();
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= SUBMISSIONS {
            return seen;
        }
        let addr = {
            let addrs = up.wait_for(|a| a.iter().any(Option::is_some)).await;
            let addrs = addrs.expect("the killer keeps the addresses");
            // Round-robin; a load balancer skips an instance that is down.
            addrs[n % addrs.len()].or_else(|| addrs.iter().flatten().next().copied())
        };
        match post(&client, addr.expect("an instance up"), &job(seed, n)).await {
            Ok(id) => {
                seen.acknowledged.push(id);
                acks.send_modify(|a| *a += 1);
            }
            Err(why) => *seen.failures.entry(why).or_default() += 1,
        }
    }
}

/// After how many acknowledged jobs each kill comes: one in each span of 1,500, so that the
/// last comes with at least 500 submissions still to go.
fn kill_points(seed: u64) -> [usize; KILLS] {
    std::array::from_fn(|k| 250 + 1_500 * k + (mix(seed, u64::MAX - k as u64) % 1_250) as usize)
}

/// `POST /jobs`: the job's id on a 202, else what went wrong.
async fn post(client: &reqwest::Client, addr: SocketAddr, body: &Value) -> Result<String, String> {
    let url = format!("http://{addr}/jobs");
    let resp = client.post(url).json(body).send().await.map_err(|e| {
        match (e.is_connect(), e.is_timeout()) {
            (true, _) => "could not connect",
            (_, true) => "timed out",
            _ => "connection lost before the answer",
        }
        .to_string()
    })?;
    if resp.status() != reqwest::StatusCode::ACCEPTED {
        return Err(format!("answered {}", resp.status()));
    }
    let job: Value = resp
        .json()
        .await
        .map_err(|_| "answer cut off".to_string())?;
    job["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("202 without an id: {job}"))
}
