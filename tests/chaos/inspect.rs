//! What the storm left: every job settled and read back, checked against what the clients
//! were told and what every life of every instance logged; the figures of the run.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;

use crate::jobs::expected;
use crate::{CLIENTS, Fleet, KILLS, SUBMISSIONS, Storm};

/// How long, after the last submission, every job has to become final.
const SETTLE: Duration = Duration::from_secs(60);

/// Waits for every stored job to be final, then checks them against what the clients were
/// told and what the servers logged.
pub async fn inspect(client: &reqwest::Client, fleet: &Fleet, storm: &Storm) -> Figures {
    let addrs: Vec<SocketAddr> = fleet.addrs().into_iter().flatten().collect();
    let acknowledged: HashSet<&str> = storm.acknowledged.iter().map(String::as_str).collect();
    let mut figures = Figures {
        submitted: SUBMISSIONS,
        acknowledged: acknowledged.len(),
        unacknowledged: storm.failures.values().sum(),
        failures: storm.failures.clone(),
        kills: fleet.lives.iter().map(|l| l.len() - 1).sum(),
        ..Figures::default()
    };
    let listed = list_all(client, addrs[0]).await;
    let mut seen = HashSet::new();
    for job in &listed {
        if !seen.insert(id_of(job)) {
            figures.duplicate(id_of(job), "listed twice".into());
        }
    }
    // Every stored job, and any acknowledged one missing from the list.
    let ids: HashSet<&str> = seen.union(&acknowledged).copied().collect();
    let jobs = settle_all(client, &addrs, ids).await;
    figures.check_jobs(&acknowledged, &seen, &jobs);
    figures.check_ends(&fleet.logs(), &jobs);
    figures
}

/// Whether a job is final.
fn is_final(job: &Value) -> bool {
    !matches!(job["status"].as_str(), Some("queued" | "running"))
}

fn id_of(job: &Value) -> &str {
    job["id"].as_str().expect("a job id")
}

/// Every job, through the list's pages.
async fn list_all(client: &reqwest::Client, addr: SocketAddr) -> Vec<Value> {
    let mut jobs = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Value = client
            .get(format!("http://{addr}/jobs?limit=1000{cursor}"))
            .send()
            .await
            .expect("GET /jobs")
            .json()
            .await
            .expect("a page of jobs");
        jobs.extend(page["jobs"].as_array().expect("jobs").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return jobs,
        }
    }
}

/// Every job of `ids` once final (its last state if it is not by [`SETTLE`]; `None` if it
/// does not exist), read round-robin from the instances.
async fn settle_all(
    client: &reqwest::Client,
    addrs: &[SocketAddr],
    ids: HashSet<&str>,
) -> HashMap<String, Option<Value>> {
    let deadline = Instant::now() + SETTLE;
    futures_util::stream::iter(ids)
        .enumerate()
        .map(|(i, id)| async move {
            let job = settle(client, addrs[i % addrs.len()], id, deadline).await;
            (id.to_string(), job)
        })
        .buffer_unordered(CLIENTS)
        .collect()
        .await
}

/// Long-polls job `id` until it is final or `deadline`; its last state, `None` if it does
/// not exist.
async fn settle(
    client: &reqwest::Client,
    addr: SocketAddr,
    id: &str,
    deadline: Instant,
) -> Option<Value> {
    loop {
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_secs(5));
        let url = format!("http://{addr}/jobs/{id}?wait_ms={}", wait.as_millis());
        let resp = client.get(url).send().await.expect("GET job");
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return None;
        }
        let job: Value = resp.json().await.expect("job JSON");
        if is_final(&job) || wait.is_zero() {
            return Some(job);
        }
    }
}

/// The attempts of each job whose run ended with a final outcome, from the `run ended` lines
/// of the logs (a run handed back, `outcome="requeued"`, recorded no result). A line cut by a
/// kill does not count; the job then has fewer ends than results, never more.
fn ended_runs(logs: &str) -> HashMap<String, Vec<u64>> {
    let mut ended: HashMap<String, Vec<u64>> = HashMap::new();
    for line in logs.lines() {
        if !line.contains("run ended outcome=") || line.contains("outcome=\"requeued\"") {
            continue;
        }
        // `... INFO job{job_id=… kind=… attempt=…}: faena::runtime::run: run ended outcome="…"`
        let Some(span) = line.split("job{").nth(1).and_then(|s| s.split('}').next()) else {
            continue;
        };
        let field = |name: &str| span.split_whitespace().find_map(|f| f.strip_prefix(name));
        if let (Some(id), Some(attempt)) = (field("job_id="), field("attempt=")) {
            let attempt = attempt.parse().expect("an attempt number");
            ended.entry(id.to_string()).or_default().push(attempt);
        }
    }
    ended
}

/// `PRAGMA integrity_check` of the SQLite file at `db`: `["ok"]` when it is sound.
pub async fn integrity_check(db: &Path) -> Vec<String> {
    use sqlx::Connection;
    let url = format!("sqlite://{}", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("open the database");
    sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .expect("PRAGMA integrity_check")
}

/// What a chaos run counted, and what it found wrong.
#[derive(Debug, Default)]
pub struct Figures {
    pub name: &'static str,
    pub seed: u64,
    submitted: usize,
    acknowledged: usize,
    unacknowledged: usize,
    failures: BTreeMap<String, usize>,
    /// Unacknowledged submissions that were stored all the same.
    stored_unacknowledged: usize,
    finished: usize,
    rerun: usize,
    lost: usize,
    duplicates: usize,
    wrong: usize,
    /// Runs that ended with a final outcome, as logged.
    ends_logged: usize,
    /// Final jobs whose end no log shows (the kill came between the commit and the line).
    ends_unlogged: usize,
    /// Ends a run tried after its job had moved on (fenced off: not results).
    stale_ends: usize,
    /// After how many acknowledged jobs each kill came.
    pub kill_points: Vec<usize>,
    kills: usize,
    pub integrity: Option<Vec<String>>,
    pub took: Duration,
    /// Job ids and what is wrong with them.
    problems: Vec<(String, String)>,
}

impl Figures {
    /// Something wrong with job `id`.
    fn problem(&mut self, id: &str, what: String) {
        self.problems.push((id.to_string(), what));
    }

    fn duplicate(&mut self, id: &str, what: String) {
        self.duplicates += 1;
        self.problem(id, format!("duplicate: {what}"));
    }

    /// Every acknowledged job is listed and final; every final job succeeded with its exact
    /// result.
    fn check_jobs(
        &mut self,
        acknowledged: &HashSet<&str>,
        listed: &HashSet<&str>,
        jobs: &HashMap<String, Option<Value>>,
    ) {
        self.stored_unacknowledged = listed.difference(acknowledged).count();
        for &id in acknowledged {
            if !listed.contains(id) {
                self.problem(id, "acknowledged, and not in the list".into());
            }
            match jobs.get(id).cloned().flatten() {
                Some(job) if is_final(&job) => {
                    self.finished += 1;
                    self.rerun += usize::from(job["attempt"].as_u64() > Some(1));
                }
                state => {
                    self.lost += 1;
                    self.problem(id, format!("lost: acknowledged, now {state:?}"));
                }
            }
        }
        for job in jobs.values().flatten().filter(|j| is_final(j)) {
            if job["status"] != "succeeded" || Some(&job["result"]) != expected(job).as_ref() {
                self.wrong += 1;
                self.problem(id_of(job), format!("wrong: {job}"));
            }
        }
    }

    /// No job has two results: at most one run of each ended with a final outcome, according
    /// to the logs of every life of every instance, and it was the attempt the job records.
    fn check_ends(&mut self, logs: &str, jobs: &HashMap<String, Option<Value>>) {
        let ended = ended_runs(logs);
        for (id, attempts) in &ended {
            let recorded = jobs
                .get(id)
                .cloned()
                .flatten()
                .map(|j| j["attempt"].clone());
            if attempts.len() > 1 || recorded.as_ref().and_then(Value::as_u64) != Some(attempts[0])
            {
                let what = format!("runs {attempts:?} ended; the job records attempt {recorded:?}");
                self.duplicate(id, what);
            }
        }
        self.ends_logged = ended.values().map(Vec::len).sum();
        // A kill can come between the commit of a run's end and its line: a result, no line.
        self.ends_unlogged = jobs
            .iter()
            .filter(|(id, job)| job.as_ref().is_some_and(is_final) && !ended.contains_key(*id))
            .count();
        self.stale_ends = logs.matches("run ended but the job had moved on").count();
    }

    /// Prints the figures (straight to stderr, so that they show in CI output whether the
    /// test passes or not), then fails on anything wrong, with the evidence: the first
    /// problems, the log lines about their jobs, and the warnings and errors.
    pub fn print_and_check(&self, fleet: &Fleet) {
        let _ = writeln!(std::io::stderr(), "{self}");
        if !self.problems.is_empty() {
            let first = &self.problems[..self.problems.len().min(10)];
            let logs = fleet.logs();
            let evidence: Vec<&str> = logs
                .lines()
                .filter(|l| {
                    first.iter().any(|(id, _)| l.contains(id.as_str()))
                        || l.contains(" WARN ")
                        || l.contains(" ERROR ")
                })
                .take(200)
                .collect();
            panic!(
                "chaos {} (seed {}): {} problems, first {first:#?}\nlogs:\n{}",
                self.name,
                self.seed,
                self.problems.len(),
                evidence.join("\n")
            );
        }
        assert_eq!(self.kills, KILLS);
        assert_eq!(self.finished, self.acknowledged);
        if let Some(check) = &self.integrity {
            assert_eq!(check, &["ok"], "PRAGMA integrity_check");
        }
    }
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "chaos {}: submitted {}, acknowledged {}, unacknowledged {} (stored anyway {}), \
             finished {}, re-run {}, lost {}, duplicates {}, wrong {}, kills {} (after {:?} \
             acknowledged), run ends logged {} (unlogged {}, stale {})",
            self.name,
            self.submitted,
            self.acknowledged,
            self.unacknowledged,
            self.stored_unacknowledged,
            self.finished,
            self.rerun,
            self.lost,
            self.duplicates,
            self.wrong,
            self.kills,
            self.kill_points,
            self.ends_logged,
            self.ends_unlogged,
            self.stale_ends,
        )?;
        if let Some(check) = &self.integrity {
            write!(f, ", integrity_check {}", check.join("; "))?;
        }
        write!(f, ", {:.1?}, seed {}", self.took, self.seed)?;
        if !self.failures.is_empty() {
            write!(f, "\n  unacknowledged: {:?}", self.failures)?;
        }
        Ok(())
    }
}
