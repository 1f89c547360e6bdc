#!/usr/bin/env bash
# Benchmarks faena and its peers side by side on this machine, in one run, and prints the
# figures that docs/benchmarks.md records.
#
#   bench/compare.sh [RUNS]          (default 3 runs of each measurement)
#
# Needs: cargo (a release build is made), curl, python3, sqlite3. Peers, each row skipped with a
# note when missing: primesieve (apt-get install primesieve-bin), and a Python venv with the
# peers of ../shared/peers (PEERS_VENV, default /opt/peers-venv: celery[redis], fastapi,
# uvicorn[standard], aiohttp, gmpy2) with Redis on 127.0.0.1:6379.
# Only 127.0.0.1 is ever contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
PEERS=${PEERS:-../shared/peers}
VENV=${PEERS_VENV:-/opt/peers-venv}
PORT=${FAENA_BENCH_PORT:-18090}
FAENA=target/release/faena
. bench/lib.sh
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

start_faena() { # $1: name, rest: extra flags; sets URL
  local name=$1; shift
  mkdir -p "$WORK/$name"
  start_faena_on "sqlite://$WORK/$name/faena.db" "$@"
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# A job submitted with ?wait_ms: prints "wall_s run_s result".
job() {
  local t0 t1 out
  t0=$(now)
  out=$(curl -sf -X POST "$URL/jobs?wait_ms=60000" -H 'content-type: application/json' -d "$1")
  t1=$(now)
  echo "$(secs "$t0" "$t1") $(echo "$out" | json '__import__("datetime").datetime.fromisoformat(d["finished_at"]).timestamp() - __import__("datetime").datetime.fromisoformat(d["started_at"]).timestamp()') $(echo "$out" | json 'json.dumps(d["result"], separators=(",", ":"))')"
}

say "machine"
machine
echo "faena $(git rev-parse --short HEAD), $(rustc --version)"
command -v primesieve > /dev/null && echo "primesieve $(primesieve --version | head -n1)"
date -u +%Y-%m-%dT%H:%MZ

say "build"
cargo build --release --quiet

say "sleep(0) jobs end to end: faena bench -n 10000 -c 32 (submit, long-poll to the end, next)"
start_faena sleep
for i in $(seq "$RUNS"); do "$FAENA" bench --url "$URL" -n 10000 -c 32; done
stop_faena

say "count_primes [0, 1e10), 2 threads: faena job (wall, run) vs primesieve 1e10 -t2"
start_faena primes --cpu-threads 2
for i in $(seq "$RUNS"); do
  echo "faena      $(job '{"kind":"count_primes","params":{"start":0,"end":10000000000}}')"
  if command -v primesieve > /dev/null; then
    t0=$(now); c=$(primesieve 1e10 -c -q -t2); t1=$(now)
    echo "primesieve $(secs "$t0" "$t1") - $c"
  fi
done
command -v primesieve > /dev/null || echo "primesieve not installed: apt-get install primesieve-bin"

say "factorial 10^6, exact digits: faena job (wall, run) vs gmpy2 fac + len(digits())"
for i in $(seq "$RUNS"); do
  echo "faena      $(job '{"kind":"factorial","params":{"numbers":[1000000]}}')"
done
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import gmpy2' 2> /dev/null; then
  "$VENV/bin/python" "$PEERS/gmpy_bench.py" --ns 1000000 --repeat "$RUNS"
else
  echo "gmpy2 peer skipped (no $VENV with gmpy2)"
fi

say "the tutorial's jobs: primes [0,1e6) as 4 ranges, factorials 50000..80000"
python3 bench/tutorial.py --url "$URL" --runs "$RUNS"
if [ -x "$VENV/bin/python" ]; then
  for i in $(seq "$RUNS"); do
    t0=$(now); "$VENV/bin/python" "$PEERS/seed_primes.py" --end 1000000 --parts 4 --workers 4 > /dev/null; t1=$(now)
    echo "tutorial seed_primes Pool(4)     $(secs "$t0" "$t1") s"
    t0=$(now); "$VENV/bin/python" "$PEERS/seed_factorial.py" --procs 4 > /dev/null; t1=$(now)
    echo "tutorial seed_factorial Pool(4)  $(secs "$t0" "$t1") s"
  done
fi
stop_faena

say "memory: RSS idle, and with 100,000 jobs queued (one I/O slot, held by a long sleep)"
start_faena memory --max-io-jobs 1
echo "idle RSS $(rss_kb "$FPID") kB"
curl -sf -X POST "$URL/jobs" -H 'content-type: application/json' \
  -d '{"kind":"sleep","params":{"ms":3600000},"timeout_ms":3600000,"priority":100}' > /dev/null
"$FAENA" bench --url "$URL" --params '{"ms":1}' -n 100000 -c 32 --submit-only
echo "queued $(sqlite3 "$WORK/memory/faena.db" "select count(*) from jobs where status = 'queued'"), RSS $(rss_kb "$FPID") kB, peak $(awk '/VmHWM/ {print $2}' "/proc/$FPID/status") kB"
stop_faena

say "peer: FastAPI + Celery + Redis, no-op jobs, load_noop.py --n 5000 --c 32 --mode closed --poll-ms 5"
peer_celery_noop "$RUNS" 5000 32
