#!/usr/bin/env bash
# count_primes side by side with primesieve and primecount, on 2 threads each, and the counts
# checked to agree. Each row: faena's job (run to its end with ?wait_ms= on a release server with
# --cpu-threads 2 on a temp SQLite; "run" is finished_at − started_at, "wall" the HTTP round
# trip), the kernel in one process with the way forced (crates/faena-kernels/examples/primes.rs: sieve, analytic),
# and the peer's process wall time; runs alternate faena and the peer, RUNS times.
#
#   bench/primes.sh [RUNS]          (default 3)
#
# Rows: [0, 10^10) vs primesieve 1e10 -t2; windows of 10^9 numbers at 10^9, 10^12 and 10^15 vs
# primesieve on the same window; [0, 10^13) and [0, 10^15) vs primecount -t2.
# Needs: cargo (a release build is made), curl, python3, primesieve and primecount
# (apt-get install primesieve-bin primecount-bin). Only 127.0.0.1 is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RUNS=${1:-3}
PORT=${FAENA_BENCH_PORT:-18092}
FAENA=target/release/faena
EXAMPLE=target/release/examples/primes
for tool in primesieve primecount; do
  command -v "$tool" > /dev/null || { echo "$tool missing: apt-get install primesieve-bin primecount-bin"; exit 1; }
done
# A job run to its end (submitted with ?wait_ms=60000, then long-polled again while it runs):
# prints "wall_s run_s count".
job() { # $1: start, $2: end
  python3 - "$URL" "$1" "$2" <<'PY'
import json, sys, time, urllib.request
from datetime import datetime
url, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
body = {"kind": "count_primes", "params": {"start": start, "end": end}, "timeout_ms": 600000}
t0 = time.time()
req = urllib.request.Request(f"{url}/jobs?wait_ms=60000", json.dumps(body).encode(),
                             {"content-type": "application/json"})
job = json.load(urllib.request.urlopen(req))
while job["status"] in ("queued", "running"):
    job = json.load(urllib.request.urlopen(f"{url}/jobs/{job['id']}?wait_ms=60000"))
wall = time.time() - t0
if job["status"] != "succeeded":
    sys.exit(f"job {job['status']}: {job['error']}")
ran = datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])
print(f"{wall:.3f} {ran.total_seconds():.3f} {job['result']['count']}")
PY
}

# A command's wall time and the number it printed: "secs count".
timed() {
  local t0 t1 out
  t0=$(now); out=$("$@"); t1=$(now)
  echo "$(secs "$t0" "$t1") $out"
}

# The median of the numbers on stdin.
median() { python3 -c "import statistics,sys; print(f'{statistics.median(float(x) for x in sys.stdin.read().split()):.3f}')"; }

ROWS=()
# One row: $1 label, $2 start, $3 end, rest: the peer's command (prints the count).
row() {
  local label=$1 start=$2 end=$3; shift 3
  local runs=() sieve=() analytic=() peer=() way="" counts=()
  say "$label: [$start, $end)"
  for i in $(seq "$RUNS"); do
    read -r wall run count <<< "$(job "$start" "$end")"
    [ -n "$count" ] || { echo "the job did not succeed"; exit 1; }
    read -r psecs pcount <<< "$(timed "$@")"
    echo "run $i: faena job wall $wall s, run $run s, count $count; peer $psecs s, count $pcount"
    runs+=("$run"); peer+=("$psecs"); counts+=("$count" "$pcount")
  done
  way=$("$EXAMPLE" "$start" "$end" auto 2 | awk '{print $2}')
  # The kernel alone, each way where it is not hopeless: sieving more than 10^11 numbers or
  # past the sieve's end, or π of numbers above 10^13 for a window the job sieves, is left out.
  for i in $(seq "$RUNS"); do
    if python3 -c "import sys; sys.exit(not ($end - $start <= 10**11 and $end <= 10**16))"; then
      read -r c _ s <<< "$("$EXAMPLE" "$start" "$end" sieve 2)"; sieve+=("$s"); counts+=("$c")
    fi
    if [ "$way" = Analytic ] || python3 -c "import sys; sys.exit(not $end <= 10**13)"; then
      read -r c _ s <<< "$("$EXAMPLE" "$start" "$end" analytic 2)"; analytic+=("$s"); counts+=("$c")
    fi
  done
  local agree=yes
  for c in "${counts[@]}"; do [ "$c" = "${counts[0]}" ] || agree="NO (${counts[*]})"; done
  local mj mp ms ma
  mj=$(printf '%s\n' "${runs[@]}" | median); mp=$(printf '%s\n' "${peer[@]}" | median)
  ms=$( ((${#sieve[@]})) && echo "$(printf '%s\n' "${sieve[@]}" | median) s" || echo "-")
  ma=$( ((${#analytic[@]})) && echo "$(printf '%s\n' "${analytic[@]}" | median) s" || echo "-")
  echo "kernel alone (median): sieve $ms, analytic $ma; the job picks $way"
  ROWS+=("| $label | $way | $mj s | $ms | $ma | $mp s | $(python3 -c "print(f'{$mj / $mp:.2f}')")× | ${counts[0]} | $agree |")
}

say "machine"
machine
echo "faena $(git rev-parse --short HEAD), $(rustc --version)"
echo "$(primesieve --version | head -n1); $(primecount --version | head -n1)"
date -u +%Y-%m-%dT%H:%MZ
uptime

say "build"
cargo build --release --quiet --bin faena && cargo build --release --quiet -p faena-kernels --example primes

"$FAENA" serve --listen "127.0.0.1:$PORT" --database-url "sqlite://$WORK/faena.db" \
  --cpu-threads 2 > "$WORK/faena.log" 2>&1 & PIDS+=($!)
URL="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -sf "$URL/healthz" > /dev/null && break; sleep 0.1; done
curl -sf "$URL/healthz" > /dev/null || { echo "faena did not start"; cat "$WORK/faena.log"; exit 1; }

row "[0, 10^10)" 0 10000000000 primesieve 1e10 -c -q -t2
row "10^9 numbers from 10^9" 1000000000 2000000000 primesieve 1000000000 1999999999 -c -q -t2
row "10^9 numbers from 10^12" 1000000000000 1001000000000 primesieve 1000000000000 1000999999999 -c -q -t2
row "10^9 numbers from 10^15" 1000000000000000 1000001000000000 primesieve 1000000000000000 1000000999999999 -c -q -t2
row "[0, 10^13)" 0 10000000000000 primecount 1e13 -t2
row "[0, 10^15)" 0 1000000000000000 primecount 1e15 -t2

say "summary (medians of $RUNS runs; 2 threads everywhere)"
echo "| range | job's way | faena job run | kernel: sieve | kernel: analytic | peer | job / peer | count | all agree |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
