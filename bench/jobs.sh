#!/usr/bin/env bash
# Job overhead at the limit, faena and the FastAPI + Celery + Redis peer in one run: sleep(0)
# jobs end to end with 64 clients (two requests per job, and one), the latency of one client,
# intake through POST /jobs/batch, PostgreSQL, a million queued jobs (memory, reads), and
# claims as finished jobs pile up. Prints what docs/benchmarks.md records; every figure line
# of faena is `faena bench` output.
#
#   bench/jobs.sh [RUNS]             (default 3 runs of each measurement)
#
# Needs: cargo (a release build is made), curl, psql and a PostgreSQL server for its rows
# (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test; the schema
# faena_bench is created and dropped; skipped with a note when it does not answer). The peer
# as in bench/compare.sh. Only 127.0.0.1 is ever contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
CLIENTS=${BENCH_CLIENTS:-64}
JOBS=${BENCH_JOBS:-30000}
QUEUED=${BENCH_QUEUED:-1000000}
PG=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
PEERS=${PEERS:-../shared/peers}
VENV=${PEERS_VENV:-/opt/peers-venv}
PORT=${FAENA_BENCH_PORT:-18090}
FAENA=target/release/faena
. bench/lib.sh
SCHEMA=faena_bench
PGURL="$PG?options[search_path]=$SCHEMA&application_name=$SCHEMA"
drop_schema() { psql -q "$PG" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" 2> /dev/null || true; }

start_faena() { BENCH_RUST_LOG=${BENCH_RUST_LOG:-warn} start_faena_on "$@"; }
sqlite_db() { rm -rf "$WORK/db"; mkdir -p "$WORK/db"; echo "sqlite://$WORK/db/faena.db"; }
rss() { awk '/VmRSS|VmHWM/ {printf "%s %.1f MB  ", $1, $2 / 1024}' "/proc/$FPID/status"; echo; }
bench() { "$FAENA" bench --url "$URL" "$@"; }
# Holds the only I/O slot with an hour-long sleep, so that what is submitted next stays queued.
hold_slot() {
  curl -sf -o /dev/null -X POST "$URL/jobs" -H 'content-type: application/json' \
    -d '{"kind":"sleep","params":{"ms":3600000},"timeout_ms":86400000}'
}

say "machine"
machine
echo "faena $(git rev-parse --short HEAD), $(rustc --version)"
date -u +%Y-%m-%dT%H:%MZ

say "build"
cargo build --release --quiet

say "sleep(0) end to end on SQLite, $CLIENTS clients: submit, long-poll to the end, next (two requests per job)"
for i in $(seq "$RUNS"); do
  start_faena "$(sqlite_db)"; bench -n "$JOBS" -c "$CLIENTS"; stop_faena
done

say "the same, one request per job: POST /jobs?wait_ms=60000 answers with the final job"
for i in $(seq "$RUNS"); do
  start_faena "$(sqlite_db)"; bench -n "$JOBS" -c "$CLIENTS" --wait-in-submit; stop_faena
done

say "latency of one client, one request per job (submit-to-done), SQLite"
start_faena "$(sqlite_db)"
for i in $(seq "$RUNS"); do bench -n 3000 -c 1 --wait-in-submit; done
stop_faena

say "FastAPI + Celery + Redis, the same no-op jobs, $CLIENTS clients (load_noop.py, polls every 5 ms)"
peer_celery_noop "$RUNS" 5000 "$CLIENTS"

say "intake: POST /jobs/batch of 1000 sleep(0) jobs, 4 clients, SQLite, nothing running (the one I/O slot held)"
for i in $(seq "$RUNS"); do
  start_faena "$(sqlite_db)" --max-io-jobs 1 --max-queued-jobs 0
  hold_slot; bench -n 200000 -c 4 --batch 1000; stop_faena
done

say "intake while the jobs run: POST /jobs/batch of 1000 sleep(0) jobs, 4 clients, SQLite"
for i in $(seq "$RUNS"); do
  start_faena "$(sqlite_db)" --max-queued-jobs 0
  bench -n 200000 -c 4 --batch 1000; stop_faena
done

say "$QUEUED jobs queued (SQLite): memory, and GET /jobs/{id} of random ones of them from 4 clients"
start_faena "$(sqlite_db)" --max-io-jobs 1 --max-queued-jobs 0
echo "idle: $(rss)"
hold_slot
bench -n "$QUEUED" -c 4 --batch 1000 --reads 100000
echo "after the reads: $(rss)"
ls -l "$WORK/db"
stop_faena

say "claims as finished jobs pile up: $((RUNS + 2)) runs of $JOBS jobs end to end in a row on one server"
start_faena "$(sqlite_db)"
for i in $(seq $((RUNS + 2))); do bench -n "$JOBS" -c "$CLIENTS" --wait-in-submit | grep -E "jobs/s|pickup"; done
stop_faena

say "PostgreSQL, one instance: sleep(0) end to end, $CLIENTS clients"
if psql -q "$PG" -c "select 1" > /dev/null 2>&1; then
  trap 'drop_schema; cleanup' EXIT
  for mode in "" --wait-in-submit; do
    for i in $(seq "$RUNS"); do
      drop_schema; psql -q "$PG" -c "CREATE SCHEMA $SCHEMA"
      start_faena "$PGURL"; bench -n "$JOBS" -c "$CLIENTS" $mode; stop_faena
    done
  done
  say "PostgreSQL: intake through POST /jobs/batch, 4 clients, nothing running"
  for i in $(seq "$RUNS"); do
    drop_schema; psql -q "$PG" -c "CREATE SCHEMA $SCHEMA"
    start_faena "$PGURL" --max-io-jobs 1 --max-queued-jobs 0
    hold_slot; bench -n 200000 -c 4 --batch 1000; stop_faena
  done
else
  echo "PostgreSQL rows skipped: no server answers at $PG"
fi
