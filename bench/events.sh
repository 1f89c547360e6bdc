#!/usr/bin/env bash
# What watching costs: sleep(0) jobs end to end (64 clients, one request per job) with no
# event stream open, with one and with ten `GET /events` readers; the memory of 200 idle
# streams; GET /stats over a million jobs. The peer: the same no-op jobs through FastAPI +
# Celery + Redis without and with Flower (Celery's dashboard) watching the workers' events.
#
#   bench/events.sh [RUNS]           (default 3 runs of each measurement)
#
# Needs: cargo (a release build is made), curl; for the peer, ../shared/peers, a virtualenv
# with celery and flower (PEERS_VENV, default /opt/peers-venv) and Redis on 127.0.0.1:6379
# (skipped with a note without them). Only 127.0.0.1 is ever contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
CLIENTS=${BENCH_CLIENTS:-64}
JOBS=${BENCH_JOBS:-30000}
# The peer does ~300 jobs/s: fewer jobs keep its runs under a minute.
PEER_JOBS=${BENCH_PEER_JOBS:-5000}
QUEUED=${BENCH_QUEUED:-1000000}
PEERS=${PEERS:-../shared/peers}
VENV=${PEERS_VENV:-/opt/peers-venv}
PORT=${FAENA_BENCH_PORT:-18090}
FAENA=target/release/faena
. bench/lib.sh

start_faena() { BENCH_RUST_LOG=${BENCH_RUST_LOG:-warn} start_faena_on "$@"; }
sqlite_db() { rm -rf "$WORK/db"; mkdir -p "$WORK/db"; echo "sqlite://$WORK/db/faena.db"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$FPID/status"; }
bench() { "$FAENA" bench --url "$URL" "$@"; }
# $1 more readers of GET /events that read everything and throw it away; returns once the
# server counts $2 streams (default $1).
readers() {
  for _ in $(seq "$1"); do
    curl -sN -o /dev/null "$URL/events" & PIDS+=($!)
  done
  for _ in $(seq 100); do
    [ "$(curl -s "$URL/metrics" | awk '/^faena_event_streams / {print $2}')" = "${2:-$1}" ] && return
    sleep 0.1
  done
  echo "the readers did not connect"; exit 1
}

say "machine"
machine
echo "faena $(git rev-parse --short HEAD), $(rustc --version)"
date -u +%Y-%m-%dT%H:%MZ

say "build"
cargo build --release --quiet

for n in 0 1 10; do
  say "sleep(0) end to end, SQLite, $CLIENTS clients, one request per job, $n event stream readers"
  for i in $(seq "$RUNS"); do
    start_faena "$(sqlite_db)"
    [ "$n" -gt 0 ] && readers "$n"
    bench -n "$JOBS" -c "$CLIENTS" --wait-in-submit
    stop_faena
  done
done

say "200 idle event streams: RSS"
start_faena "$(sqlite_db)"
readers 1
before=$(rss_kb)
readers 200 201
after=$(rss_kb)
echo "RSS with 1 stream $((before / 1024)) MB, with 201: $((after / 1024)) MB; $(((after - before) * 1024 / 200)) bytes per idle stream"
stop_faena

say "GET /stats over $QUEUED queued jobs (SQLite), uncached: time of the answer"
start_faena "$(sqlite_db)" --max-queued-jobs 0 --max-io-jobs 1
curl -sf -o /dev/null -X POST "$URL/jobs" -H 'content-type: application/json' \
  -d '{"kind":"sleep","params":{"ms":3600000},"timeout_ms":86400000}'
bench -n "$QUEUED" -c 4 --batch 1000 > /dev/null
for i in $(seq "$RUNS"); do
  # Past the longest reuse of an answer (15 s), so that each one is computed.
  sleep 16
  curl -s -o /dev/null -w "GET /stats: %{time_total} s\n" "$URL/stats"
done
curl -s -w "\n" "$URL/stats" | cut -c1-200
stop_faena

say "peer: FastAPI + Celery + Redis, no-op jobs, $CLIENTS clients, without and with Flower"
if [ -x "$VENV/bin/celery" ] && "$VENV/bin/python" -c "import flower" 2> /dev/null; then
  peer_celery_noop "$RUNS" "$PEER_JOBS" "$CLIENTS"
  # The first API server must be gone before the second starts (it answered its probes).
  while curl -s -o /dev/null 127.0.0.1:8000; do sleep 0.2; done
  echo "with Flower watching (workers sending events, -E):"
  (cd "$PEERS" && exec "$VENV/bin/celery" -A celery_app flower --address=127.0.0.1 --port=5555 \
    > "$WORK/flower.log" 2>&1) & FLOWER=$!; PIDS+=("$FLOWER")
  CELERY_WORKER_EXTRA=-E peer_celery_noop "$RUNS" "$PEER_JOBS" "$CLIENTS"
  kill "$FLOWER" 2> /dev/null || true
  wait "$FLOWER" 2> /dev/null || true
else
  echo "peer skipped (no $VENV/bin/celery or no flower in it: $VENV/bin/pip install flower)"
fi
