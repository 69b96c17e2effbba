#!/usr/bin/env bash
# HTTPS baseline of gatehoused (printed, never asserted):
#  - requests/s on GET /healthz with wrk at 1, 50 and 500 connections
#    (median of 5 runs, with min and max);
#  - memory per idle TLS connection with 1,000 connections held open
#    (PSS of gatehoused from /proc/PID/smaps_rollup, before and after).
# Loopback only. Usage: tests/bench/https.sh [build dir]  (default build/release)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$repo/build/release}
gatehoused=$build/gatehoused
[ -x "$gatehoused" ] || { echo "build first: $gatehoused missing" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk missing: scripts/install-deps" >&2; exit 2; }

RUNS=5          # median of 5 (BENCHMARKS.md)
SECONDS_EACH=5  # per wrk run
IDLE_CONNS=1000

tmp=$(mktemp -d /tmp/gh-bench.XXXXXX)
pid=""
holder=""
cleanup() {
  [ -n "$holder" ] && kill "$holder" 2>/dev/null
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
ulimit -n 8192

(cd "$tmp" && exec "$gatehoused" -o server.port=0 -o server.max_connections=4000 2>"$tmp/log") &
pid=$!
for _ in $(seq 100); do grep -q 'Gatehouse is ready' "$tmp/log" && break; sleep 0.05; done
port=$(sed -n 's/.* port=\([0-9]*\) .*/\1/p' "$tmp/log")
url="https://127.0.0.1:$port/healthz"

# Wait until the machine is quiet (< 8 % busy over 2 s), at most 30 s.
quiet() {
  local a b i
  for i in $(seq 15); do
    a=($(head -1 /proc/stat)); sleep 2; b=($(head -1 /proc/stat))
    local idle=$(( (b[4]+b[5]) - (a[4]+a[5]) )) total=0 k
    for k in 1 2 3 4 5 6 7 8; do total=$((total + b[k] - a[k])); done
    [ $((100 * (total - idle) / (total ? total : 1))) -lt 8 ] && return 0
  done
  echo "# machine never got quiet; numbers are noisy"
}

stats() { sort -n | awk '{v[NR]=$1} END {printf "median=%s min=%s max=%s spread=%.0f%%", v[int((NR+1)/2)], v[1], v[NR], (v[NR]-v[1])*100/(v[int((NR+1)/2)]?v[int((NR+1)/2)]:1)}'; }

echo "# gatehoused $("$gatehoused" --version | cut -d' ' -f2), $(nproc) cores"
# Memory first, on a fresh process: wrk's 500 connections would leave
# allocator pools behind and hide the per-connection cost.
pss() { awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup"; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
quiet
before_pss=$(pss); before_rss=$(rss)
mkfifo "$tmp/hold"
node "$repo/tests/bench/idle-conns.mjs" 127.0.0.1 "$port" "$IDLE_CONNS" <"$tmp/hold" >"$tmp/holder.out" &
holder=$!
exec 9>"$tmp/hold"
for _ in $(seq 600); do grep -q '^ready' "$tmp/holder.out" && break; sleep 0.1; done
sleep 1
open=$(curl -sk "https://127.0.0.1:$port/metrics" | sed -n 's/^gatehouse_open_connections //p')
after_pss=$(pss); after_rss=$(rss)
echo "idle-tls-conns  $(cat "$tmp/holder.out")  open_connections=$open"
echo "idle-tls-memory  pss_before=${before_pss}KiB pss_after=${after_pss}KiB  per_conn_pss=$(( (after_pss - before_pss) * 1024 / IDLE_CONNS ))B  rss_before=${before_rss}KiB rss_after=${after_rss}KiB  per_conn_rss=$(( (after_rss - before_rss) * 1024 / IDLE_CONNS ))B"
exec 9>&-
wait "$holder" 2>/dev/null || true
holder=""
sleep 1
echo "# wrk -t2 ${SECONDS_EACH}s x $RUNS runs"
for c in 1 50 500; do
  quiet
  threads=$(( c < 2 ? 1 : 2 ))
  for r in $(seq $RUNS); do
    wrk -t"$threads" -c"$c" -d"${SECONDS_EACH}s" "$url" 2>/dev/null |
      awk '/Requests\/sec/ {printf "%d\n", $2}'
  done | stats >"$tmp/s"
  echo "https-healthz-c$c  gatehouse_req_per_s $(cat "$tmp/s")  ($RUNS runs)"
done

