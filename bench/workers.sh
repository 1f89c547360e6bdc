#!/usr/bin/env bash
# Remote workers draining no-op jobs, faena and Celery side by side in one run:
#   (a) the Python worker (clients/python, thread executor, concurrency 2 and 4, prefetch
#       3 x concurrency: four jobs per handler, as Celery's default prefetch) on N no-op jobs submitted in batches (clients/python/bench/drain.py), against
#       a Celery worker (prefork, 2 processes, Redis broker) draining N no-op tasks sent with
#       apply_async from Python (celery_drain.py of the peers);
#   (b) the Rust client of the protocol (`faena bench --workers`), batched claims and answers,
#       and the claim-to-start latency of a long-polling worker.
# faena runs on SQLite, durable (synchronous = FULL, the default), and, for (b), also with the
# default logging off (RUST_LOG=warn: the two log lines per job cost ~10% at 35,000 jobs/s).
#
#   bench/workers.sh [RUNS]          (default 3 runs of each)
#
# Needs: a release build (cargo build --release), a Python with the client installed
# (FAENA_PYTHON, default target/venv-python-client/bin/python, as .ci/run makes it), the peers
# (PEERS, default ../shared/peers) with their virtualenv (PEERS_VENV, default /opt/peers-venv:
# celery[redis]) and Redis on 127.0.0.1:6379. Only 127.0.0.1 is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
JOBS=${BENCH_JOBS:-20000}
RUST_JOBS=${BENCH_RUST_JOBS:-200000}
PORT=${FAENA_BENCH_PORT:-18093}
PEERS=${PEERS:-../shared/peers}
VENV=${PEERS_VENV:-/opt/peers-venv}
PY=${FAENA_PYTHON:-target/venv-python-client/bin/python}
FAENA=target/release/faena
. bench/lib.sh

say "machine"
machine
echo "faena $(git rev-parse --short HEAD)$(git diff --quiet || echo ' + working tree'), $("$PY" --version), Celery $("$VENV/bin/celery" --version 2>/dev/null || echo missing)"
date -u +%Y-%m-%dT%H:%MZ

say "(a) Celery: prefork, 2 processes, Redis broker; $JOBS no-op tasks sent with apply_async"
if [ -x "$VENV/bin/celery" ] && redis-cli -h 127.0.0.1 ping > /dev/null 2>&1; then
  (cd "$PEERS" && exec "$VENV/bin/celery" -A celery_app worker -c 2 -P prefork --loglevel=WARNING \
    > "$WORK/celery.log" 2>&1) & celery=$!; PIDS+=("$celery")
  for _ in $(seq 100); do
    (cd "$PEERS" && "$VENV/bin/celery" -A celery_app inspect ping > /dev/null 2>&1) && break
    sleep 0.3
  done
  for _ in $(seq "$RUNS"); do
    redis-cli -h 127.0.0.1 flushall > /dev/null
    (cd "$PEERS" && "$VENV/bin/python" celery_drain.py --n "$JOBS")
  done
  kill "$celery"; wait "$celery" 2> /dev/null || true
else
  echo "peer skipped (no $VENV/bin/celery or no Redis on 127.0.0.1:6379)"
fi

say "(a) faena, the Python worker (prefetch 3 x concurrency): $JOBS no-op jobs submitted in batches, then drained"
for c in 2 4; do
  for _ in $(seq "$RUNS"); do
    "$PY" clients/python/bench/drain.py --bin "$FAENA" --jobs "$JOBS" --concurrency "$c" \
      --prefetch $((3 * c)) | tail -n 2
  done
done

say "(b) faena, the Rust client of the protocol: $RUST_JOBS no-op jobs, 4 workers, claims of 500"
for log in info warn; do
  for _ in $(seq "$RUNS"); do
    rm -f "$WORK"/drain.db*
    BENCH_RUST_LOG=$log start_faena_on "sqlite://$WORK/drain.db" --worker-kinds noop --max-queued-jobs 0
    echo "RUST_LOG=$log"
    "$FAENA" bench --url "$URL" --kind noop --params '{}' -n "$RUST_JOBS" -c 4 --workers 4 --claim 500 \
      --latency-samples 300
    stop_faena
  done
done
