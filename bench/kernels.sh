#!/usr/bin/env bash
# The kernels at the limit (issue 7), side by side with their peers in one run:
#   - factorial of 10^6 and 10^7 (digit count, trailing zeros, first 20 digits, all exact):
#     faena jobs vs gmpy2 (GMP) computing n! and its exact digit count (num_digits, checked
#     against 10^(d-1)), and also its first 20 digits (n! // 10^(d-20));
#   - word_count over 200 MB (10,000 pages of 20 KB saved by a fetch_urls job from the local
#     page server, examples/pages.rs), with top 0 and the default top 10, vs GNU `wc -w` over the
#     same bytes as files, in C.UTF-8 and with LC_ALL=C; the word counts are compared.
#
#   bench/kernels.sh [RUNS]        (default 3; faena and its peers alternate within each run)
#
# Needs: cargo, curl, python3 (with venv), GNU wc. gmpy2 is installed from PyPI into a venv
# (GMPY_VENV, default target/peers-venv) if missing. Only 127.0.0.1 is ever contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
PORT=${FAENA_BENCH_PORT:-18090}
PAGES_PORT=${PAGES_PORT:-18091}
VENV=${GMPY_VENV:-target/peers-venv}
N_PAGES=10000
. bench/lib.sh

say "machine"
machine
echo "faena $(git rev-parse --short HEAD), $(rustc --version), $(wc --version | head -n1)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (other processes share these cores)"
date -u +%Y-%m-%dT%H:%MZ

cargo build --release --quiet --bin faena --example pages
if ! "$VENV/bin/python" -c 'import gmpy2' 2> /dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet gmpy2
fi
"$VENV/bin/python" -c 'import gmpy2; print(f"gmpy2 {gmpy2.version()}, GMP {gmpy2.mp_version()}")'

target/release/faena serve --listen "127.0.0.1:$PORT" --database-url "sqlite://$WORK/db/faena.db" \
  --fetch-allow-private > "$WORK/faena.log" 2>&1 & PIDS+=($!)
target/release/examples/pages --listen "127.0.0.1:$PAGES_PORT" --delay-ms 0 --bytes 20000 \
  > "$WORK/pages.log" 2>&1 & PIDS+=($!)
URL="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -sf "$URL/healthz" > /dev/null && break; sleep 0.1; done

# Submits the job in file $1 and long-polls it; prints "run_s wall_s id result-json".
job() {
  local t0 t1
  t0=$(now)
  curl -sf -X POST "$URL/jobs?wait_ms=60000" -H 'content-type: application/json' \
    --data-binary "@$1" > "$WORK/last.json"
  t1=$(now)
  python3 - "$(secs "$t0" "$t1")" "$WORK/last.json" <<'PY'
import datetime, json, sys
d = json.load(open(sys.argv[2]))
ts = lambda s: datetime.datetime.fromisoformat(s).timestamp()
r = d.get("result") or {}
r.pop("files", None)
print(f'{ts(d["finished_at"]) - ts(d["started_at"]):.3f} {sys.argv[1]} {d["id"]} {json.dumps(r, separators=(",", ":"))}')
PY
}

# gmpy2 on n: "fac+digits_s fac+digits+leading_s digits leading".
gmpy() {
  "$VENV/bin/python" - "$1" <<'PY'
import sys, time, gmpy2
n = int(sys.argv[1])
t0 = time.perf_counter()
f = gmpy2.fac(n)
d = gmpy2.num_digits(f, 10)  # exact or one too many
if f < gmpy2.mpz(10) ** (d - 1):
    d -= 1
t1 = time.perf_counter()
lead = str(f // gmpy2.mpz(10) ** max(d - 20, 0))
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t0:.3f} {d} {lead}")
PY
}

ratio() { python3 -c "print(f'{$1 / $2:.1f}x')"; }

say "factorial: faena job (run = started_at..finished_at) vs gmpy2 in one process"
echo "| n | run | faena run s | faena wall s | gmpy2 fac+digits s | ratio | gmpy2 +leading s | ratio | digits faena/gmpy2 | leading equal |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in 1000000 10000000; do
  echo "{\"kind\":\"factorial\",\"timeout_ms\":600000,\"params\":{\"numbers\":[$n]}}" > "$WORK/fac.json"
  for i in $(seq "$RUNS"); do
    read -r run wall _ result <<< "$(job "$WORK/fac.json")"
    read -r g1 g2 gd glead <<< "$(gmpy "$n")"
    read -r fd flead <<< "$(echo "$result" | python3 -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; print(r["digits"], r["leading_digits"])')"
    same=no; [ "$flead" = "$glead" ] && same=yes
    echo "| $n | $i | $run | $wall | $g1 | $(ratio "$g1" "$run") | $g2 | $(ratio "$g2" "$run") | $fd/$gd | $same |"
  done
done

say "word_count over 200 MB: $N_PAGES pages of 20 KB, saved by a fetch_urls job"
python3 - "$N_PAGES" "$PAGES_PORT" > "$WORK/fetch.json" <<'PY'
import json, sys
n, port = int(sys.argv[1]), sys.argv[2]
urls = [f"http://127.0.0.1:{port}/page/{i}" for i in range(n)]
print(json.dumps({"kind": "fetch_urls", "timeout_ms": 600000,
                  "params": {"urls": urls, "concurrency": 200, "save": True}}))
PY
read -r _ _ FETCH_ID _ <<< "$(job "$WORK/fetch.json")"
# The same pages as files, for wc.
mkdir -p "$WORK/pages"
python3 - "$N_PAGES" "$PAGES_PORT" "$WORK/pages" <<'PY'
import sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
n, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def save(i):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/page/{i}") as r:
        open(f"{out}/page-{i}", "wb").write(r.read())
with ThreadPoolExecutor(16) as pool:
    list(pool.map(save, range(n)))
PY
BYTES=$(cat "$WORK"/pages/* | wc -c)
echo "$BYTES bytes in $N_PAGES files; fetch job $FETCH_ID"
for top in 0 10; do
  echo "{\"kind\":\"word_count\",\"params\":{\"source_job\":\"$FETCH_ID\",\"top\":$top}}" > "$WORK/wc$top.json"
done
mbs() { python3 -c "print(f'{$BYTES / $1 / 1e6:.0f}')"; }
echo "| run | what | s | MB/s | words | vs wc C.UTF-8 | vs wc C |"
echo "|---|---|---|---|---|---|---|"
for i in $(seq "$RUNS"); do
  for loc in C.UTF-8 C; do
    t0=$(now); w=$(cd "$WORK/pages" && LC_ALL=$loc wc -w -- * | tail -n1 | awk '{print $1}'); t1=$(now)
    declare "wc_${loc//[.-]/_}=$(secs "$t0" "$t1")" "words_${loc//[.-]/_}=$w"
  done
  echo "| $i | wc -w C.UTF-8 | $wc_C_UTF_8 | $(mbs "$wc_C_UTF_8") | $words_C_UTF_8 | | |"
  echo "| $i | LC_ALL=C wc -w | $wc_C | $(mbs "$wc_C") | $words_C | | |"
  for top in 0 10; do
    read -r run wall _ result <<< "$(job "$WORK/wc$top.json")"
    words=$(echo "$result" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total_words"])')
    same=""; [ "$words" = "$words_C_UTF_8" ] || same=" (C.UTF-8 count differs!)"
    echo "| $i | faena top=$top run (wall $wall) | $run | $(mbs "$run") | $words$same | $(ratio "$wc_C_UTF_8" "$run") | $(ratio "$wc_C" "$run") |"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
