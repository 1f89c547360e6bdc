#!/usr/bin/env bash
# fetch_urls and word_count, side by side with their peers, in one run:
#   - 10,000 URLs from a local server that answers each after 50 ms with a 20 KB page,
#     concurrency 500: faena's fetch_urls job (saving the pages, and not) vs an asyncio +
#     aiohttp program saving them to files (bench/fetch_aiohttp.py, the tutorial's approach);
#   - word_count over the 200 MB of pages saved by the fetch job vs GNU `wc -w` over the same
#     bytes saved as files by the peer.
#
#   bench/fetch.sh [RUNS]        (default 3)
#
# Needs: cargo, curl, python3, and a Python venv with aiohttp (PEERS_VENV, default
# /opt/peers-venv). Only 127.0.0.1 is ever contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
VENV=${PEERS_VENV:-/opt/peers-venv}
PORT=${FAENA_BENCH_PORT:-18090}
PAGES_PORT=${PAGES_PORT:-18091}
N=10000
. bench/lib.sh

say "machine"
machine
echo "faena $(git rev-parse --short HEAD), $(rustc --version), $(wc --version | head -n1)"
date -u +%Y-%m-%dT%H:%MZ

cargo build --release --quiet --bin faena --example pages
target/release/examples/pages --listen "127.0.0.1:$PAGES_PORT" --delay-ms 50 --bytes 20000 \
  > "$WORK/pages.log" 2>&1 & PIDS+=($!)
target/release/faena serve --listen "127.0.0.1:$PORT" --database-url "sqlite://$WORK/db/faena.db" \
  --fetch-allow-private > "$WORK/faena.log" 2>&1 & FPID=$!; PIDS+=($FPID)
URL="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -sf "$URL/healthz" > /dev/null && break; sleep 0.1; done

# The request body of a fetch job over pages 0..N-1.
body() { python3 - "$1" "$N" "$PAGES_PORT" <<'PY'
import json, sys
save, n, port = sys.argv[1] == "true", int(sys.argv[2]), sys.argv[3]
urls = [f"http://127.0.0.1:{port}/page/{i}" for i in range(n)]
print(json.dumps({"kind": "fetch_urls", "timeout_ms": 600000,
                  "params": {"urls": urls, "concurrency": 500, "save": save}}))
PY
}
body true > "$WORK/save.json"
body false > "$WORK/nosave.json"

# Warm the page server's cache (pages are made on first request) with a throwaway peer run.
if [ -x "$VENV/bin/python" ]; then
  "$VENV/bin/python" bench/fetch_aiohttp.py --base "http://127.0.0.1:$PAGES_PORT" --n "$N" \
    --concurrency 500 --out "$WORK/warm" > /dev/null
  rm -rf "$WORK/warm"
fi

# Submits a job and long-polls it; prints "wall run id summary".
run_job() {
  local t0 t1 out
  t0=$(now)
  out=$(curl -sf -X POST "$URL/jobs?wait_ms=60000" -H 'content-type: application/json' --data-binary "@$1")
  t1=$(now)
  echo "$out" > "$WORK/last.json"
  python3 - "$(secs "$t0" "$t1")" "$WORK/last.json" <<'PY'
import datetime, json, sys
d = json.load(open(sys.argv[2]))
ts = lambda s: datetime.datetime.fromisoformat(s).timestamp()
r = d.get("result") or {}
summary = {k: r[k] for k in ("succeeded", "failed", "total_words", "total_bytes") if k in r}
print(f'{sys.argv[1]} {ts(d["finished_at"]) - ts(d["started_at"]):.3f} {d["id"]} {d["status"]} {json.dumps(summary)}')
PY
}

say "fetch_urls: $N URLs (50 ms, 20 KB each), concurrency 500; ideal $(python3 -c "print($N/500*0.05)") s"
echo "(wall = submit to answer of the long-poll; run = started_at to finished_at)"
for i in $(seq "$RUNS"); do
  read -r wall run id rest <<< "$(run_job "$WORK/save.json")"
  echo "faena save=true   wall ${wall} s  run ${run} s  $rest"
  FETCH_ID=$id
  read -r wall run _ rest <<< "$(run_job "$WORK/nosave.json")"
  echo "faena save=false  wall ${wall} s  run ${run} s  $rest"
  if [ -x "$VENV/bin/python" ]; then
    rm -rf "$WORK/peer"
    "$VENV/bin/python" bench/fetch_aiohttp.py --base "http://127.0.0.1:$PAGES_PORT" --n "$N" \
      --concurrency 500 --out "$WORK/peer"
  fi
done
echo "faena RSS now $(awk '/VmRSS/ {print $2}' /proc/$FPID/status) kB, peak $(awk '/VmHWM/ {print $2}' /proc/$FPID/status) kB"
[ -x "$VENV/bin/python" ] || echo "aiohttp peer skipped (no $VENV/bin/python with aiohttp)"

say "word_count over the pages of the last fetch job vs wc -w over the same pages as files"
echo "{\"kind\":\"word_count\",\"params\":{\"source_job\":\"$FETCH_ID\"}}" > "$WORK/wc.json"
for i in $(seq "$RUNS"); do
  read -r wall run _ rest <<< "$(run_job "$WORK/wc.json")"
  echo "faena word_count  wall ${wall} s  run ${run} s  $rest"
  if [ -d "$WORK/peer" ]; then
    for loc in C C.UTF-8; do
      t0=$(now); words=$(cd "$WORK/peer" && LC_ALL=$loc wc -w -- * | tail -n1); t1=$(now)
      echo "wc -w ($loc)  $(secs "$t0" "$t1") s  words $words  bytes $(cat "$WORK"/peer/* | wc -c)"
    done
  fi
done
echo "faena RSS now $(awk '/VmRSS/ {print $2}' /proc/$FPID/status) kB, peak $(awk '/VmHWM/ {print $2}' /proc/$FPID/status) kB"
