#!/usr/bin/env bash
# What observing faena costs: sleep(0) jobs end to end (`faena bench -n N -c 32`) against
# builds A and B alternately on a fresh SQLite file each run: A and B with text logs, B with
# JSON logs (stderr to a file, as a log collector would take it) and B with RUST_LOG=warn (no
# line per job); then a /metrics scrape with 100,000 jobs queued and the size of the image's
# stripped binary.
#
#   FAENA_BIN_A=/path/to/old/faena FAENA_BIN_B=target/release/faena bench/observability.sh [RUNS] [N]
#
# A is typically the release build of the commit before metrics and request logs, B this one.
# Only 127.0.0.1 is used.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RUNS=${1:-3}
N=${2:-10000}
A=${FAENA_BIN_A:?the baseline binary}
B=${FAENA_BIN_B:-target/release/faena}
PORT=${PORT:-18470}

serve() { # $1: binary, $2: log format, $3: RUST_LOG; starts it on a new database, waits
  rm -f "$WORK"/db*
  RUST_LOG=${3:-info,sqlx=warn,tower_http=warn} "$1" serve --listen "127.0.0.1:$PORT" --database-url "sqlite://$WORK/db" --log-format "$2" \
    2> "$WORK/server.log" & SERVER=$!
  PIDS+=("$SERVER")
  for _ in $(seq 200); do curl -sf -o /dev/null "127.0.0.1:$PORT/readyz" && return; sleep 0.05; done
  echo "server did not start"; cat "$WORK/server.log"; exit 1
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }

say "machine: $(machine); $(date -u +%FT%TZ); A=$A B=$B"
for run in $(seq "$RUNS"); do
  for variant in "A text" "B text" "B json" "B text warn"; do
    read -r which format level <<< "$variant"
    bin=$A; [ "$which" = B ] && bin=$B
    serve "$bin" "$format" "$level"
    printf 'run %s %s %-4s %-4s ' "$run" "$which" "$format" "${level:-info}"
    "$B" bench --url "http://127.0.0.1:$PORT" -n "$N" -c 32 | grep -E 'jobs/s' | head -n1
    stop
    printf '   log: %s lines, %s bytes\n' "$(wc -l < "$WORK/server.log")" "$(wc -c < "$WORK/server.log")"
  done
done

say "/metrics with 100,000 jobs queued (B)"
serve "$B" text
# Long sleeps: the I/O slots fill up and the rest stays queued.
"$B" bench --url "http://127.0.0.1:$PORT" -n 100000 -c 32 --submit-only \
  --params '{"ms":600000}' --kind sleep > /dev/null
for _ in 1 2 3; do
  curl -s -o "$WORK/metrics.txt" -w 'scrape: %{time_total} s, %{size_download} bytes\n' \
    "127.0.0.1:$PORT/metrics"
done
grep -E '^faena_jobs_(queued|running)' "$WORK/metrics.txt"
stop

say "the image's binary"
cp "$B" "$WORK/faena"
printf 'release build: %s bytes; ' "$(stat -c %s "$WORK/faena")"
objcopy --strip-debug "$WORK/faena"
printf 'stripped of line tables (as docker/Dockerfile does): %s bytes\n' "$(stat -c %s "$WORK/faena")"
