#!/usr/bin/env bash
# Benchmarks the ingest gateway against a bare net/http handler, in one run,
# on loopback, driven by the same load generator from a separate process
# (internal/ingest/loadgen):
#   - bare: an HTTP server whose handler only reads the body and answers 202
#     (loadgen -serve_bare): what net/http alone costs on this machine;
#   - ceiling: the same events published straight to the Pub/Sub emulator
#     with the bare gRPC stub, one Publish RPC per request (loadgen
#     -ceiling): the most anything that publishes to this emulator on this
#     machine can sustain, whatever the gateway does;
#   - gateway: `railyard ingest` publishing to that emulator, every request
#     answered only after Pub/Sub confirmed its events.
# The emulator (pstest, loadgen -serve_pubsub) runs in a process of its own,
# fresh for each run, so that the gateway's CPU time and the emulator's are
# measured apart. For each batch size (events per request) and concurrency,
# N requests go to each server in turn. The table gives events accepted per
# second, request latency (p50, p99) and the CPU time per event (user +
# system, from /proc) of the server and of the emulator, then the ratios
# for 100-event batches: gateway/bare (the target) and gateway/ceiling.
#
# Usage: scripts/bench-ingest.sh [--requests N] [--concurrency "1 8 32"] [--batches "1 100"]
#                                [--work DIR] [--profile] [-- extra gateway flags]
#   --requests N       requests per run (default: 20000 for batch 1, 5000 otherwise)
#   --concurrency "…"  concurrencies to run (default "1 8 32")
#   --batches "…"      events per request (default "1 100")
#   --work DIR         binaries, logs and profiles (default /tmp/railyard-bench-ingest)
#   --profile          write CPU profiles of the gateway runs to DIR/gateway-b<batch>-c<conc>.prof
#   -- FLAGS           passed to `railyard ingest` (e.g. --direct_publish_min -1)
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
    -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

# wait_addr FILE PREFIX → the first PREFIX-URL the process printed to FILE
# (http://host:port as is, pubsub://host:port as host:port)
wait_addr() {
  local file=$1 prefix=$2 url=""
  for _ in $(seq 1 300); do
    url=$(grep -o "${prefix}[0-9.:]*" "$file" | head -1 || true)
    [ -n "$url" ] && { echo "${url#pubsub://}"; return; }
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
bare_url=$(wait_addr "$work/bare.out" "http://")/v1/events

project=railyard-bench
events_topic=projects/$project/topics/game-events
dl_topic=projects/$project/topics/game-events-dead-letters

# Each run gets a fresh emulator (pstest keeps every message it was sent in
# memory: runs do not inherit each other's heap) and a fresh gateway.
# start_pubsub TAG → sets ps_pid and ps_addr
start_pubsub() {
  "$bin/loadgen" -serve_pubsub 127.0.0.1:0 -topics "$events_topic,$dl_topic" >"$work/pubsub-$1.out" 2>&1 &
  ps_pid=$!; pids+=("$ps_pid")
  ps_addr=$(wait_addr "$work/pubsub-$1.out" 'pubsub://')
}
# start_gateway TAG → sets gw_pid and gw_url
start_gateway() {
  local tag=$1 flags=(ingest --pubsub_endpoint "$ps_addr" --pubsub_project "$project" --listen 127.0.0.1:0 --stats_interval 0)
  [ "$profile" = 1 ] && flags+=(--cpuprofile "$work/gateway-$tag.prof")
  "$bin/railyard" "${flags[@]}" "${extra[@]}" >"$work/gateway-$tag.out" 2>"$work/gateway-$tag.log" &
  gw_pid=$!; pids+=("$gw_pid")
  gw_url=$(wait_addr "$work/gateway-$tag.out" 'http://')/v1/events
}
stop() { # PID WHAT
  kill -INT "$1"
  wait "$1" || { echo "the $2 failed; see $work/*.log" >&2; exit 1; }
}
log "bare handler: $bare_url; gateway: railyard ingest ${extra[*]}; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

results=$work/results.txt
: >"$results"
# measure NAME PID EMULATOR_PID BATCH CONCURRENCY REQUESTS LOADGEN_ARGS… —
# PID is the server's (0: none), EMULATOR_PID the emulator's (0: none)
measure() {
  local name=$1 pid=$2 epid=$3 batch=$4 conc=$5 n=$6 line s0=0 s1=0 e0=0 e1=0
  shift 6
  [ "$pid" != 0 ] && s0=$(cpu_ticks "$pid")
  [ "$epid" != 0 ] && e0=$(cpu_ticks "$epid")
  # A run with failed requests still prints its line (and exits 1).
  line=$("$bin/loadgen" -name "$name" -batch "$batch" -concurrency "$conc" -requests "$n" "$@" || true)
  [ "$pid" != 0 ] && s1=$(cpu_ticks "$pid")
  [ "$epid" != 0 ] && e1=$(cpu_ticks "$epid")
  echo "$line cpu_s=$(awk -v t=$((s1 - s0)) -v hz="$hz" 'BEGIN{printf "%.2f", t/hz}') emulator_cpu_s=$(awk -v t=$((e1 - e0)) -v hz="$hz" 'BEGIN{printf "%.2f", t/hz}')" | tee -a "$results" >&2
}

for batch in $batches; do
  n=$requests
  [ -z "$n" ] && { [ "$batch" = 1 ] && n=20000 || n=5000; }
  for conc in $concurrency; do
    tag=b$batch-c$conc
    measure bare "$bare_pid" 0 "$batch" "$conc" "$n" -url "$bare_url"
    start_pubsub "ceiling-$tag"
    measure ceiling 0 "$ps_pid" "$batch" "$conc" "$n" -ceiling "$ps_addr" -topics "$events_topic"
    stop "$ps_pid" emulator
    start_pubsub "$tag"
    start_gateway "$tag"
    measure gateway "$gw_pid" "$ps_pid" "$batch" "$conc" "$n" -url "$gw_url"
    stop "$gw_pid" gateway
    stop "$ps_pid" emulator
  done
done

echo
echo "ingest benchmark: $(nproc) CPUs, loopback, load generator in a separate process (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
awk '
function field(k,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
function perEvent(k, ev) { return (ev > 0 ? field(k) * 1e6 / ev : 0) }
BEGIN { printf "| %-7s | %5s | %11s | %8s | %6s | %12s | %8s | %8s | %16s | %18s |\n", "run", "batch", "concurrency", "requests", "failed", "events/s", "p50 ms", "p99 ms", "server µs/event", "emulator µs/event"
        print "|---------|------:|------------:|---------:|-------:|-------------:|---------:|---------:|-----------------:|-------------------:|" }
{ ev = field("events"); name = field("name")
  printf "| %-7s | %5s | %11s | %8s | %6s | %12s | %8s | %8s | %16.2f | %18.2f |\n", name, field("batch"), field("concurrency"), field("requests"), field("failed"), field("events_per_s"), field("p50_ms"), field("p99_ms"), perEvent("cpu_s", ev), perEvent("emulator_cpu_s", ev)
  key = field("batch") " " field("concurrency")
  if (!(key in seen)) { seen[key] = 1; order[++nkeys] = key }
  eps[name, key] = field("events_per_s"); cpu[name, key] = perEvent("cpu_s", ev) }
END {
  print ""
  print "100-event batches: gateway / bare events/s (target >= 50%), gateway / ceiling events/s, ceiling / bare events/s, gateway / bare server CPU per event:"
  for (i = 1; i <= nkeys; i++) { k = order[i]; split(k, kb, " "); if (kb[1] == 100 && eps["bare", k] > 0 && eps["ceiling", k] > 0)
    printf "  concurrency %3s: gateway/bare %6.1f%%   gateway/ceiling %6.1f%%   ceiling/bare %6.1f%%   CPU %5.1fx\n", kb[2],
      100 * eps["gateway", k] / eps["bare", k], 100 * eps["gateway", k] / eps["ceiling", k], 100 * eps["ceiling", k] / eps["bare", k],
      (cpu["bare", k] > 0 ? cpu["gateway", k] / cpu["bare", k] : 0) }
}' "$results"
log "raw results in $results; gateway and emulator output and logs in $work/"
