#!/usr/bin/env bash
# Benchmarks railyard's pipelines on each runner, in one run on this machine:
#   - the batch job over the same generated lake (--sink=discard, so only the
#     runner's work is measured) on prism, Flink and Spark (Beam's job
#     servers started by scripts/flink-job-server.sh and spark-job-server.sh,
#     embedded Flink / Spark local[2], LOOPBACK Go workers): events/s, wall
#     time, CPU seconds and peak RSS of the pipeline process, and the job
#     server's peak RSS (its VmHWM after the run);
#   - the speed job at a fixed publish rate on prism and on Flink
#     (internal/speedbench: pstest and the BigQuery emulator on loopback):
#     publish → row visible p50/p99 and the sustained rate.
# Each figure is one run; the job servers start before their runs (their
# start-up is not timed). On a shared machine wall times are noisy: compare
# the runners within one report. Not a test: nothing here fails on a figure.
#
# Usage: scripts/bench-runners.sh [--events N] [--plan P] [--speed-events N] [--speed-rate R]
#                                 [--runners R,…] [--work DIR] [--no-speed]
#   --events N         events in the batch lake (default 1000000)
#   --plan P           the batch job's --plan (default hourly)
#   --speed-events N   events the speed bench publishes (default 20000)
#   --speed-rate R     publish rate in events/s (default 1000)
#   --runners R,…      runners to measure (default prism,flink,spark; speed: prism,flink)
#   --work DIR         where lakes, binaries and logs go (default /tmp/railyard-bench)
#   --no-speed         skip the speed job runs
set -euo pipefail
cd "$(dirname "$0")/.."

events=1000000 plan=hourly speed_events=20000 speed_rate=1000 runners=prism,flink,spark work=/tmp/railyard-bench speed=1
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events=$2; shift 2 ;;
    --plan) plan=$2; shift 2 ;;
    --speed-events) speed_events=$2; shift 2 ;;
    --speed-rate) speed_rate=$2; shift 2 ;;
    --runners) runners=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --no-speed) speed=0; shift ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
for r in ${runners//,/ }; do
  case "$r" in prism|flink|spark) ;; *) echo "unknown runner: $r (prism, flink or spark)" >&2; exit 2 ;; esac
done
command -v /usr/bin/time >/dev/null || { echo "needs GNU time: apt-get install time" >&2; exit 1; }

mkdir -p "$work/bin"
bin=$work/bin
log() { printf '==> %s\n' "$*" >&2; }

log "building railyard, the batch job and the speed bench"
go build -o "$bin/railyard" ./cmd/railyard
go build -o "$bin/batch" ./pipelines/batch
go build -o "$bin/speedbench" ./internal/speedbench
go build -o "$bin/speed" ./pipelines/speed

date=2026-11-01
lake=$work/lake-$events
if [ ! -f "$lake/.complete" ]; then
  log "generating $events events into $lake"
  rm -rf "$lake"
  "$bin/railyard" gen --out "$lake" --events "$events" --progress log >/dev/null
  touch "$lake/.complete"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# start_server KIND: starts a job server in the background on a free port;
# sets server_pid and endpoint.
server_pids=()
cleanup() { for p in "${server_pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
start_server() {
  local kind=$1 port
  port=$(free_port)
  log "starting the $kind job server on port $port (about 10-30 s)"
  "scripts/$kind-job-server.sh" --mode=java --job-port="$port" --artifact-port=0 --expansion-port=0 >"$work/$kind-job-server.log" 2>&1 &
  server_pid=$!
  server_pids+=("$server_pid")
  for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { echo "the $kind job server exited; see $work/$kind-job-server.log" >&2; tail -20 "$work/$kind-job-server.log" >&2; exit 1; }
    sleep 1
  done
  endpoint=localhost:$port
}
stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}
# peak_rss_kb PID: the process's peak resident set (VmHWM) so far.
peak_rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# The batch job on each runner.
batch_rows=()
for r in ${runners//,/ }; do
  runner_args=(--runner="$r")
  server_rss=0
  if [ "$r" != prism ]; then
    start_server "$r"
    runner_args+=(--endpoint="$endpoint" --environment_type=LOOPBACK)
  fi
  name=batch-$plan-$r
  log "$name: the batch job over $events events, --sink=discard"
  if ! /usr/bin/time -v -o "$work/$name.time" "$bin/batch" --lake="$lake" --date=$date --sink=discard --plan="$plan" "${runner_args[@]}" >"$work/$name.log" 2>&1; then
    echo "$name failed; see $work/$name.log" >&2; tail -20 "$work/$name.log" >&2; exit 1
  fi
  if [ "$r" != prism ]; then
    server_rss=$(peak_rss_kb "$(pgrep -P "$server_pid" -f java || echo "$server_pid")")
    [ "$server_rss" -gt 0 ] || server_rss=$(peak_rss_kb "$server_pid")
  fi
  read_lines=$(awk '/^read / {print $2; exit}' "$work/$name.log")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$work/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$name.time")
  cpu=$(awk -F': ' '/(User|System) time \(seconds\)/ {s+=$2} END {print s}' "$work/$name.time")
  batch_rows+=("$r $read_lines $wall $cpu $rss $server_rss")
  if [ "$r" != prism ]; then stop_server; fi
done

# The speed job at a fixed rate on prism and Flink.
speed_rows=()
if [ "$speed" = 1 ]; then
  for r in ${runners//,/ }; do
    [ "$r" = spark ] && continue # streaming is refused on Spark
    runner_args=(--runner="$r")
    if [ "$r" = flink ]; then
      start_server flink
      runner_args+=(--endpoint="$endpoint")
    fi
    name=speed-$r
    log "$name: $speed_events events at $speed_rate/s"
    if ! "$bin/speedbench" --job_bin "$bin/speed" --work "$work/$name" --events "$speed_events" --rate "$speed_rate" "${runner_args[@]}" >"$work/$name.log" 2>&1; then
      echo "$name failed; see $work/$name.log" >&2; tail -20 "$work/$name.log" >&2; exit 1
    fi
    # speedbench's machine-readable line: "result runner=… visible=N span_s=S sustained=R p50_ms=… p99_ms=… …".
    summary=$(awk '/^result / {for (i = 2; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
      printf "%s|%s s|%s|%.1f s|%.1f s", v["visible"], v["span_s"], v["sustained"], v["p50_ms"] / 1000, v["p99_ms"] / 1000}' "$work/$name.log")
    speed_rows+=("$r|$summary")
    if [ "$r" = flink ]; then stop_server; fi
  done
fi

echo
echo "railyard runner benchmark: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(go env GOVERSION), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "batch job, --plan=$plan, --sink=discard, $events events:"
echo
echo "| runner | lines read | seconds | events/s | vs prism | CPU s (pipeline process) | peak RSS pipeline | peak RSS job server |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
prism_rate=$(printf '%s\n' "${batch_rows[@]}" | awk '$1=="prism" {printf "%.0f", $2/$3}')
for row in "${batch_rows[@]}"; do
  # shellcheck disable=SC2086
  set -- $row
  awk -v r="$1" -v n="$2" -v s="$3" -v cpu="$4" -v rss="$5" -v srss="$6" -v b="${prism_rate:-0}" 'BEGIN {
    rate = n / s
    vs = (b > 0 ? sprintf("%.0f%%", 100 * rate / b) : "—")
    js = (srss > 0 ? sprintf("%.0f MB", srss / 1024) : "—")
    printf "| %s | %d | %.1f | %.0f | %s | %.1f | %.0f MB | %s |\n", r, n, s, rate, vs, cpu, rss / 1024, js }'
done
if [ ${#speed_rows[@]} -gt 0 ]; then
  echo
  echo "speed job, $speed_events events published at $speed_rate/s (internal/speedbench; the job started before publishing):"
  echo
  echo "| runner | valid unique events visible | in | events/s sustained | publish → row visible p50 | p99 |"
  echo "|---|---:|---:|---:|---:|---:|"
  for row in "${speed_rows[@]}"; do
    IFS='|' read -r r n t rate p50 p99 <<<"$row"
    echo "| $r | $n | $t | $rate | $p50 | $p99 |"
  done
fi
echo
echo "logs and /usr/bin/time output: $work"
