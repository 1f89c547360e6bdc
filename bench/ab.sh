#!/usr/bin/env bash
# A/B of job overhead: the release build of a base commit (default: the parent of the first
# commit of the current issue's work, given as BASE) against the working tree's, built and
# measured back to back on this machine, runs alternating A, B, A, B… Measures what
# bench/jobs.sh measures for faena on SQLite: sleep(0) end to end with 64 clients (two
# requests per job, and one), the latency of one client, and intake through POST /jobs/batch
# (nothing running, and while the jobs run). Both servers are driven by the working tree's
# `faena bench`, so the client costs the same. Prints each run's jobs/s and, per figure, the
# median of B over the median of A. Three more figures, the kernels (`primes`: count_primes
# [0, 10^10), by π(x); `sieve`: the 10^9 numbers from 10^15, sieved; `factorial`: the exact
# digits of 10^7!), give a job's run time in seconds, as the job reports it (started_at to
# finished_at): there B/A below 1 is faster.
#
#   bench/ab.sh BASE [RUNS]        (BASE: a commit, e.g. 5251ba5; default 3 runs)
#   FIGURES="intake intake_running" bench/ab.sh BASE    (some of the figures only)
#   FIGURES="primes sieve factorial" bench/ab.sh BASE   (the kernels)
#
# Needs: cargo (two release builds: BASE in a worktree under the scratch directory, sharing
# target/ for dependencies) and curl. Only 127.0.0.1 is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:?usage: bench/ab.sh BASE [RUNS]}
RUNS=${2:-3}
CLIENTS=${BENCH_CLIENTS:-64}
JOBS=${BENCH_JOBS:-30000}
PORT=${FAENA_BENCH_PORT:-18091}
. bench/lib.sh

say "machine"
machine
echo "A: $(git rev-parse --short "$BASE")  B: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' + working tree')"
date -u +%Y-%m-%dT%H:%MZ

say "build"
# The base's binary is kept under target/ab/ by commit: a second A/B against it builds only B.
A_BIN="target/ab/faena-$(git rev-parse "$BASE")"
if ! [ -x "$A_BIN" ]; then
  git worktree add -q --detach "$WORK/base" "$BASE"
  trap 'git worktree remove --force "$WORK/base"; cleanup' EXIT
  CARGO_TARGET_DIR="$PWD/target" cargo build --release --quiet --manifest-path "$WORK/base/Cargo.toml" --bin faena
  mkdir -p target/ab
  cp target/release/faena "$A_BIN"
fi
cp "$A_BIN" "$WORK/faena-a"
cargo build --release --quiet --bin faena
cp target/release/faena "$WORK/faena-b"
CLIENT="$WORK/faena-b"

sqlite_db() { rm -rf "$WORK/db"; mkdir -p "$WORK/db"; echo "sqlite://$WORK/db/faena.db"; }
bench() { "$CLIENT" bench --url "$URL" "$@" | grep -oE '[0-9]+ jobs/s' | cut -d' ' -f1; }
# The run time of one job (`$1`, a submission), in seconds, as the job reports it.
run_secs() {
  curl -sf -X POST "$URL/jobs?wait_ms=60000" -H 'content-type: application/json' -d "$1" |
    python3 -c 'import json, sys; from datetime import datetime as t
d = json.load(sys.stdin); assert d["status"] == "succeeded", d
ran = t.fromisoformat(d["finished_at"]) - t.fromisoformat(d["started_at"])
print("%.3f" % ran.total_seconds())'
}
hold_slot() {
  curl -sf -o /dev/null -X POST "$URL/jobs" -H 'content-type: application/json' \
    -d '{"kind":"sleep","params":{"ms":3600000},"timeout_ms":86400000}'
}

# One run of figure $1 on binary $2.
measure() {
  local figure=$1 FAENA=$2
  case $figure in
    two) start_faena_on "$(sqlite_db)"; bench -n "$JOBS" -c "$CLIENTS" ;;
    one) start_faena_on "$(sqlite_db)"; bench -n "$JOBS" -c "$CLIENTS" --wait-in-submit ;;
    latency) start_faena_on "$(sqlite_db)"; bench -n 3000 -c 1 --wait-in-submit ;;
    intake) start_faena_on "$(sqlite_db)" --max-io-jobs 1 --max-queued-jobs 0
      hold_slot; bench -n 200000 -c 4 --batch 1000 ;;
    intake_running) start_faena_on "$(sqlite_db)" --max-queued-jobs 0
      bench -n 200000 -c 4 --batch 1000 ;;
    primes) start_faena_on "$(sqlite_db)"
      run_secs '{"kind":"count_primes","params":{"start":0,"end":10000000000}}' ;;
    sieve) start_faena_on "$(sqlite_db)"
      run_secs '{"kind":"count_primes","params":{"start":1000000000000000,"end":1000001000000000}}' ;;
    factorial) start_faena_on "$(sqlite_db)"
      run_secs '{"kind":"factorial","params":{"numbers":[10000000]}}' ;;
  esac
  stop_faena
}

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

export BENCH_RUST_LOG=warn
for figure in ${FIGURES:-two one latency intake intake_running}; do
  case $figure in primes|sieve|factorial) unit="s per job" ;; *) unit="jobs/s" ;; esac
  say "$figure ($unit; A then B, alternating)"
  a=""; b=""
  for _ in $(seq "$RUNS"); do
    a="$a $(measure "$figure" "$WORK/faena-a")"
    b="$b $(measure "$figure" "$WORK/faena-b")"
  done
  ma=$(echo "$a" | median); mb=$(echo "$b" | median)
  echo "A:$a"
  echo "B:$b"
  python3 -c "print(f'median A {$ma:.4g}, B {$mb:.4g}: B/A = {$mb / $ma:.3f}')"
done
