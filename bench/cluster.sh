#!/usr/bin/env bash
# faena on PostgreSQL, one instance and three sharing one queue, side by side with faena on
# SQLite and the FastAPI + Celery + Redis peer, in one run; prints what docs/benchmarks.md
# records.
#
#   bench/cluster.sh [RUNS]          (default 3 runs of each measurement)
#
# Needs: cargo (a release build is made), curl, psql and a PostgreSQL server
# (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test; the schema
# faena_bench is created and dropped). The peer as in bench/compare.sh. Only 127.0.0.1 is
# ever contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
JOBS=${BENCH_JOBS:-20000}
CLIENTS=${BENCH_CLIENTS:-64}
PG=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
PEERS=${PEERS:-../shared/peers}
VENV=${PEERS_VENV:-/opt/peers-venv}
FAENA=target/release/faena
. bench/lib.sh
SCHEMA=faena_bench
PGURL="$PG?options[search_path]=$SCHEMA&application_name=$SCHEMA"

fresh_schema() { psql -q "$PG" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" -c "CREATE SCHEMA $SCHEMA" 2> /dev/null; }
drop_schema() { psql -q "$PG" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" 2> /dev/null || true; }
trap 'drop_schema; cleanup' EXIT

INSTANCES=()
URLS=""
start_instances() { # $1: how many, $2: database URL, rest: extra flags; sets URLS
  local n=$1 db=$2; shift 2
  INSTANCES=(); URLS=""
  for i in $(seq 0 $((n - 1))); do
    local port=$((18100 + i))
    "$FAENA" serve --listen "127.0.0.1:$port" --database-url "$db" --instance-id "node-$i" "$@" \
      > "$WORK/node-$i.log" 2>&1 &
    INSTANCES+=($!); PIDS+=($!)
    URLS="${URLS:+$URLS,}http://127.0.0.1:$port"
  done
  for url in ${URLS//,/ }; do
    for _ in $(seq 100); do curl -sf "$url/healthz" > /dev/null && break; sleep 0.1; done
    curl -sf "$url/healthz" > /dev/null || { echo "faena did not start"; cat "$WORK"/node-*.log; exit 1; }
  done
}
stop_instances() {
  for p in "${INSTANCES[@]}"; do kill "$p" 2> /dev/null || true; wait "$p" 2> /dev/null || true; done
}

say "machine"
machine
echo "faena $(git rev-parse --short HEAD), $(rustc --version)"
psql -tA "$PG" -c "select version()" | cut -d, -f1
psql -tA "$PG" -c "select 'fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit')"
date -u +%Y-%m-%dT%H:%MZ

say "build"
cargo build --release --quiet

say "sleep(0) end to end, one instance on SQLite: faena bench -n $JOBS -c $CLIENTS"
for _ in $(seq "$RUNS"); do
  rm -rf "$WORK/sqlite"
  start_instances 1 "sqlite://$WORK/sqlite/faena.db"
  "$FAENA" bench --url "$URLS" -n "$JOBS" -c "$CLIENTS"
  stop_instances
done

say "sleep(0) end to end, one instance on PostgreSQL: faena bench -n $JOBS -c $CLIENTS"
for _ in $(seq "$RUNS"); do
  fresh_schema
  start_instances 1 "$PGURL"
  "$FAENA" bench --url "$URLS" -n "$JOBS" -c "$CLIENTS"
  stop_instances
done

say "sleep(0) end to end, three instances on one PostgreSQL, jobs round-robin: faena bench -n $JOBS -c $CLIENTS"
for _ in $(seq "$RUNS"); do
  fresh_schema
  start_instances 3 "$PGURL"
  "$FAENA" bench --url "$URLS" -n "$JOBS" -c "$CLIENTS"
  echo "jobs per instance: $(psql -qtA "$PG" -c "set search_path = $SCHEMA" -c "select string_agg(owner || '=' || n, ' ' order by owner) from (select owner, count(*) n from jobs group by owner) t")"
  stop_instances
done

say "pickup by an idle instance on PostgreSQL: one client, one job at a time (faena bench -n 2000 -c 1)"
for _ in $(seq "$RUNS"); do
  fresh_schema
  start_instances 1 "$PGURL"
  "$FAENA" bench --url "$URLS" -n 2000 -c 1
  stop_instances
done

say "pickup across instances: submitted to a busy instance (its only I/O slot taken), run by an idle one"
for _ in $(seq "$RUNS"); do
  fresh_schema
  start_instances 1 "$PGURL" --max-io-jobs 1
  busy=$URLS
  curl -sf -X POST "$busy/jobs" -H 'content-type: application/json' \
    -d '{"kind":"sleep","params":{"ms":3600000},"timeout_ms":3600000}' > /dev/null
  "$FAENA" serve --listen 127.0.0.1:18110 --database-url "$PGURL" --instance-id idle \
    --poll-interval-ms 60000 > "$WORK/idle.log" 2>&1 & idle=$!; PIDS+=($idle)
  for _ in $(seq 100); do curl -sf 127.0.0.1:18110/healthz > /dev/null && break; sleep 0.1; done
  "$FAENA" bench --url "$busy" -n 2000 -c 1
  kill "$idle"; wait "$idle" 2> /dev/null || true
  stop_instances
done

say "peer: FastAPI + Celery + Redis, no-op jobs, load_noop.py --n 5000 --c $CLIENTS --mode closed --poll-ms 5"
peer_celery_noop "$RUNS" 5000 "$CLIENTS"
