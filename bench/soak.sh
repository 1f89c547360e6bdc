#!/usr/bin/env bash
# Soak: faena under a steady load for a long time, sampling its memory (RSS) and the size of
# its SQLite database every minute. With retention on, both must level off: final jobs are
# pruned after --retain-succeeded-secs and the file gives their pages back.
#
#   bench/soak.sh [MINUTES] [RATE]     # default 30 minutes at 200 jobs/s
#
# Needs a built binary (FAENA_BIN, default target/release/faena). Prints one line per minute
# and the bench report at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
rate=${2:-200}
bin=${FAENA_BIN:-target/release/faena}
port=${PORT:-18080}
retain=${RETAIN_SECS:-300}
dir=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT

"$bin" serve --listen "127.0.0.1:$port" --database-url "sqlite://$dir/faena.db" \
  --retain-succeeded-secs "$retain" --prune-interval-ms 30000 >"$dir/log" 2>&1 &
server=$!
for _ in $(seq 100); do
  "$bin" healthcheck --url "http://127.0.0.1:$port" >/dev/null 2>&1 && break
  sleep 0.2
done

jobs=$(awk -v m="$minutes" -v r="$rate" 'BEGIN { printf "%d", m * 60 * r }')
echo "soak: $minutes min at $rate jobs/s ($jobs sleep jobs), retention ${retain}s, $(nproc) cores, $bin"
"$bin" bench --url "http://127.0.0.1:$port" --kind sleep --params '{"ms":5}' \
  -n "$jobs" -c 16 --rate "$rate" >"$dir/bench" &
bench=$!

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
printf '%6s %10s %10s %10s %8s\n' minute rss_mib db_mib wal_mib pruned
for m in $(seq 0 "$minutes"); do
  rss=$(awk '/VmRSS/ { print $2 * 1024 }' "/proc/$server/status")
  pruned=$(grep -c 'pruned expired' "$dir/log" || true)
  printf '%6d %10s %10s %10s %8s\n' "$m" "$(mib "$rss")" "$(mib "$(size "$dir/faena.db")")" \
    "$(mib "$(size "$dir/faena.db-wal")")" "$pruned"
  [ "$m" -lt "$minutes" ] && sleep 60
done
wait "$bench"
cat "$dir/bench"
