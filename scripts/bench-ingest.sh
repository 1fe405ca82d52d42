#!/usr/bin/env bash
# Benchmarks the ingest gateway against a bare net/http handler, in one run,
# both on loopback and driven by the same load generator from a separate
# process (internal/ingest/loadgen):
#   - gateway: `railyard ingest --local`, i.e. the gateway publishing to an
#     in-process Pub/Sub emulator (pstest), every request answered only after
#     Pub/Sub confirmed its events;
#   - bare: an HTTP server whose handler only reads the body and answers 202
#     (loadgen -serve_bare): what net/http alone costs on this machine.
# For each batch size (events per request) and concurrency, N requests go to
# each server in turn. The table gives events accepted per second, request
# latency (p50, p99) and the server's CPU time per event (user + system, from
# /proc, so that a machine shared with other work still gives comparable
# figures), then the gateway/bare ratios for 100-event batches.
#
# Usage: scripts/bench-ingest.sh [--requests N] [--concurrency "1 8 32"] [--batches "1 100"]
#                                [--work DIR] [--profile] [-- extra gateway flags]
#   --requests N       requests per run (default: 20000 for batch 1, 2000 otherwise)
#   --concurrency "…"  concurrencies to run (default "1 8 32")
#   --batches "…"      events per request (default "1 100")
#   --work DIR         binaries, logs and profiles (default /tmp/railyard-bench-ingest)
#   --profile          write CPU profiles of the gateway runs to DIR/gateway-b<batch>-c<conc>.prof
#   -- FLAGS           passed to `railyard ingest` (e.g. --publish_batch_count 1000)
set -euo pipefail
cd "$(dirname "$0")/.."

requests="" concurrency="1 8 32" batches="1 100" work=/tmp/railyard-bench-ingest profile=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --profile) profile=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done

mkdir -p "$work/bin"
bin=$work/bin
log() { printf '==> %s\n' "$*" >&2; }

log "building railyard and the load generator"
go build -o "$bin/railyard" ./cmd/railyard
go build -o "$bin/loadgen" ./internal/ingest/loadgen

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# wait_url FILE → the first http:// URL the server printed to FILE
wait_url() {
  local file=$1 url=""
  for _ in $(seq 1 300); do
    url=$(grep -o 'http://[0-9.:]*' "$file" | head -1 || true)
    [ -n "$url" ] && { echo "$url"; return; }
    sleep 0.1
  done
  echo "server did not start; see $file" >&2
  exit 1
}

# cpu_ticks PID → user+system clock ticks of the process so far
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

log "starting the bare handler"
"$bin/loadgen" -serve_bare 127.0.0.1:0 >"$work/bare.out" 2>&1 &
bare_pid=$!; pids+=("$bare_pid")
bare_url=$(wait_url "$work/bare.out")/v1/events

# Each gateway run gets a fresh gateway (and so a fresh pstest, which keeps
# every message it was sent in memory): runs do not inherit each other's heap.
# start_gateway TAG → sets gw_pid and gw_url
start_gateway() {
  local tag=$1 flags=(ingest --local --listen 127.0.0.1:0 --stats_interval 0)
  [ "$profile" = 1 ] && flags+=(--cpuprofile "$work/gateway-$tag.prof")
  "$bin/railyard" "${flags[@]}" "${extra[@]}" >"$work/gateway-$tag.out" 2>"$work/gateway-$tag.log" &
  gw_pid=$!; pids+=("$gw_pid")
  gw_url=$(wait_url "$work/gateway-$tag.out")/v1/events
}
stop_gateway() {
  kill -INT "$gw_pid"
  wait "$gw_pid" || { echo "the gateway failed; see $work/gateway-*.log" >&2; exit 1; }
}
log "gateway: railyard ingest --local ${extra[*]}; bare handler: $bare_url; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

results=$work/results.txt
: >"$results"
# measure NAME URL PID BATCH CONCURRENCY REQUESTS
measure() {
  local name=$1 url=$2 pid=$3 batch=$4 conc=$5 n=$6 before after line
  before=$(cpu_ticks "$pid")
  # A run with failed requests still prints its line (and exits 1).
  line=$("$bin/loadgen" -name "$name" -url "$url" -batch "$batch" -concurrency "$conc" -requests "$n" || true)
  after=$(cpu_ticks "$pid")
  echo "$line cpu_s=$(awk -v t=$((after - before)) -v hz="$hz" 'BEGIN{printf "%.2f", t/hz}')" | tee -a "$results" >&2
}

for batch in $batches; do
  n=$requests
  [ -z "$n" ] && { [ "$batch" = 1 ] && n=20000 || n=2000; }
  for conc in $concurrency; do
    measure bare "$bare_url" "$bare_pid" "$batch" "$conc" "$n"
    start_gateway "b$batch-c$conc"
    measure gateway "$gw_url" "$gw_pid" "$batch" "$conc" "$n"
    stop_gateway
  done
done

echo
echo "ingest benchmark: $(nproc) CPUs, loopback, load generator in a separate process (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
awk '
function field(k,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
BEGIN { printf "| %-7s | %5s | %11s | %8s | %6s | %12s | %8s | %8s | %14s |\n", "server", "batch", "concurrency", "requests", "failed", "events/s", "p50 ms", "p99 ms", "CPU µs/event"
        print "|---------|------:|------------:|---------:|-------:|-------------:|---------:|---------:|---------------:|" }
{ ev = field("events"); cpu = field("cpu_s")
  printf "| %-7s | %5s | %11s | %8s | %6s | %12s | %8s | %8s | %14.2f |\n", field("name"), field("batch"), field("concurrency"), field("requests"), field("failed"), field("events_per_s"), field("p50_ms"), field("p99_ms"), (ev > 0 ? cpu * 1e6 / ev : 0)
  key = field("batch") " " field("concurrency")
  if (!(key in seen)) { seen[key] = 1; order[++nkeys] = key }
  if (field("name") == "bare") { bare[key] = field("events_per_s"); bcpu[key] = (ev > 0 ? cpu / ev : 0) } else { gw[key] = field("events_per_s"); gcpu[key] = (ev > 0 ? cpu / ev : 0) } }
END {
  print ""
  print "gateway / bare, 100-event batches (target: events/s ratio >= 50%):"
  for (i = 1; i <= nkeys; i++) { k = order[i]; split(k, kb, " "); if (kb[1] == 100 && bare[k] > 0)
    printf "  concurrency %3s: events/s %6.1f%%   CPU per event %6.1fx\n", kb[2], 100 * gw[k] / bare[k], (bcpu[k] > 0 ? gcpu[k] / bcpu[k] : 0) }
}' "$results"
log "raw results in $results; gateway output and logs in $work/gateway-*"
