# Shared by the benchmark scripts (sourced, not run): a scratch directory and the processes
# to stop when the script ends, section headers, and timing.
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

say() { printf '\n## %s\n' "$*"; }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.3f}')"; }
machine() {
  echo "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), kernel $(uname -r)"
}

# The peer FastAPI + Celery + Redis (../shared/peers) on no-op jobs: RUNS runs of
# load_noop.py with N jobs from C clients, closed loop. Needs PEERS, VENV and Redis on
# 127.0.0.1:6379; prints a note instead when they are missing.
peer_celery_noop() { # $1: runs, $2: jobs, $3: clients
  if ! [ -x "$VENV/bin/celery" ] || ! redis-cli -h 127.0.0.1 ping > /dev/null 2>&1; then
    echo "peer skipped (no $VENV/bin/celery or no Redis on 127.0.0.1:6379)"
    return
  fi
  # CELERY_WORKER_EXTRA: more worker flags (-E for Flower), split on purpose.
  # shellcheck disable=SC2086
  # exec: the PIDs recorded are the worker's and the API's own, which stop their children.
  (cd "$PEERS" && exec "$VENV/bin/celery" -A celery_app worker -c 2 -P prefork --loglevel=WARNING ${CELERY_WORKER_EXTRA:-} \
    > "$WORK/celery.log" 2>&1) & local celery=$!; PIDS+=("$celery")
  (cd "$PEERS" && exec "$VENV/bin/uvicorn" api:app --host 127.0.0.1 --port 8000 --workers 1 \
    --log-level warning --no-access-log > "$WORK/api.log" 2>&1) & local api=$!; PIDS+=("$api")
  for _ in $(seq 100); do curl -sf -o /dev/null -X POST 127.0.0.1:8000/jobs -H 'content-type: application/json' -d '{"kind":"noop","params":{}}' && break; sleep 0.2; done
  for _ in $(seq "$1"); do
    redis-cli -h 127.0.0.1 flushall > /dev/null
    "$VENV/bin/python" "$PEERS/load_noop.py" --url http://127.0.0.1:8000 --n "$2" --c "$3" --mode closed --poll-ms 5
  done
  kill "$celery" "$api" 2> /dev/null || true
  wait "$celery" "$api" 2> /dev/null || true
}

# Starts a release faena on 127.0.0.1:$PORT with database $1 and the flags that follow, its log
# in $WORK/faena.log (RUST_LOG from BENCH_RUST_LOG, default info); sets URL and FPID.
start_faena_on() {
  local db=$1; shift
  RUST_LOG=${BENCH_RUST_LOG:-info} "$FAENA" serve --listen "127.0.0.1:$PORT" --database-url "$db" \
    "$@" >> "$WORK/faena.log" 2>&1 &
  FPID=$!; PIDS+=("$FPID")
  URL="http://127.0.0.1:$PORT"
  for _ in $(seq 100); do curl -sf "$URL/healthz" > /dev/null && return; sleep 0.1; done
  echo "faena did not start"; cat "$WORK/faena.log"; exit 1
}
stop_faena() { kill "$FPID"; wait "$FPID" 2>/dev/null || true; }
