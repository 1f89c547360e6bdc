//! The job state machine under random sequences of store operations (insert, with or without
//! a dependency; claim; heartbeat and finish with live or stale leases, every outcome
//! including a hand-back; cancel; delete; rescue of expired leases; recovery at start), on a
//! few jobs. After every step each job is read back and checked against what the test knows
//! ([`model`]):
//!
//! - a job in a final state never changes its status, result, error, end time or attempt
//!   again (until deleted), and a deleted job stays gone;
//! - every row reads back (its status is one of [`crate::job::JobStatus`]);
//! - `attempt` never decreases, except that a hand-back takes back exactly its claim's count;
//! - a job is running exactly while the test holds its live lease; any other lease is stale,
//!   and a stale lease's heartbeat is `Lost` and its finish refused, changing nothing;
//! - claim takes only queued jobs whose dependencies succeeded; a run settled by a rescue or a
//!   recovery ends as documented (cancelled if a cancel is pending, else failed when out of
//!   attempts, else queued with its attempt counted).
//!
//! Cases ([`steps`]) are generated with proptest and run one by one, each on a fresh store,
//! with proptest's shrinking driven from here (the store is async; proptest's runner is not).

/// `Err(message)` unless `cond`.
macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

mod model;
mod steps;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, TestRunner};

use super::{Backend, store};
use crate::store::StoreError;
use model::Model;
use steps::Step;

const NAME: &str = "no_transition_leaves_a_final_state";
/// Generated sequences, and the most steps in one.
const CASES: u32 = 32;
const MAX_STEPS: usize = 30;
/// Runs spent looking for a shorter failing sequence.
const MAX_SHRINK_RUNS: u32 = 200;

/// A store error as a failure of the case.
fn ok<T>(result: Result<T, StoreError>, what: &str) -> Result<T, String> {
    result.map_err(|e| format!("{what}: {e:?}"))
}

/// Runs `steps` on a fresh store; `None` when the backend is not configured.
async fn run(backend: Backend, steps: &[Step]) -> Option<Result<(), String>> {
    let store = store(backend, NAME).await?;
    let mut model = Model::default();
    for (i, step) in steps.iter().enumerate() {
        let checked = match steps::apply(&store, &mut model, step).await {
            Ok(expect) => model.check(&store, step, expect).await,
            Err(why) => Err(why),
        };
        if let Err(why) = checked {
            return Some(Err(format!("step {i} {step:?}: {why}")));
        }
    }
    Some(Ok(()))
}

async fn no_transition_leaves_a_final_state(backend: Backend) {
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let sequences = proptest::collection::vec(steps::step(), 1..=MAX_STEPS);
    for _ in 0..CASES {
        let mut tree = sequences.new_tree(&mut runner).expect("a sequence");
        let Some(result) = run(backend, &tree.current()).await else {
            return;
        };
        let Err(mut why) = result else {
            continue;
        };
        // Shrink as proptest does: simpler while it still fails, back when it passes.
        let mut minimal = tree.current();
        let mut failing = true;
        for _ in 0..MAX_SHRINK_RUNS {
            let moved = if failing {
                tree.simplify()
            } else {
                tree.complicate()
            };
            if !moved {
                break;
            }
            failing = false;
            if let Some(Err(w)) = run(backend, &tree.current()).await {
                (minimal, why, failing) = (tree.current(), w, true);
            }
        }
        panic!(
            "{} steps break the state machine: {why}\n{minimal:#?}",
            minimal.len()
        );
    }
}

on_both_stores!(no_transition_leaves_a_final_state);
